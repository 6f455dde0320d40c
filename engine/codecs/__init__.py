"""Ways of storing a memory, one subpackage each, over what they share: the item, the record format, quality."""

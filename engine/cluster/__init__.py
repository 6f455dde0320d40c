"""Scale-out on Ray (the optional `ray` extra): actors compute batches, this process plans, journals and writes."""

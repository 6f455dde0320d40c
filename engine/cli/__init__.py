"""The faces: the `semzip` command line and the commands behind it (demo, doctor, eval)."""

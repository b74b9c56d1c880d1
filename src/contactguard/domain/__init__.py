"""Pure rules of ContactGuard: no I/O, standard library only."""

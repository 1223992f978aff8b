"""Nova's services and the physical models they use, named as Nova names them."""

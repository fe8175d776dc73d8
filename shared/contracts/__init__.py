"""Response bodies one service serves and another consumes: the wire shape, written once."""

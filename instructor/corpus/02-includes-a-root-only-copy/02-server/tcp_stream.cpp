// Hostile: compiles a copy of the reference solution that only root may read, outside the tree
// (the corpus test puts it there), as if it were this lab's code.
#include "/var/tmp/socklab-corpus-secret/tcp_stream.cpp"

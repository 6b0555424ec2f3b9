// The server's symbols: their names from a "list" reply, and a hash table from name to index.
#pragma once
#include <stddef.h>

#include "wire.h"

typedef struct { char **names; int count; int *table; int table_size; } Symbols;

// Asks the server for its symbols on a connection of its own (blocking); dies if it cannot.
Symbols fetch_symbols(const Target *target);
// The index of the symbol named by `bytes`, or -1.
int symbols_find(const Symbols *symbols, const char *bytes, size_t length);

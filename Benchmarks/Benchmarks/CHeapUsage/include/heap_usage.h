// glibc's count of the bytes the process has allocated and not freed, for memory benchmarks that
// must not see the pages an earlier benchmark freed as free (resident memory would).
#pragma once
#include <stddef.h>

/// Bytes in use over every arena, mmapped blocks included (from malloc_info); 0 without glibc.
size_t heap_bytes_in_use(void);

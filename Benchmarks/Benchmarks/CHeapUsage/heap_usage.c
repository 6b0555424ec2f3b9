#define _GNU_SOURCE
#include <stdio.h>  // first: it defines __GLIBC__ on glibc

#include "heap_usage.h"

#if defined(__GLIBC__)
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

// The size="N" of the first `<tag type="kind"` element at or after `from`; 0 if none.
static size_t size_of(const char *from, const char *tag_and_type) {
    const char *at = strstr(from, tag_and_type);
    if (!at) return 0;
    const char *size = strstr(at, "size=\"");
    return size ? strtoull(size + 6, NULL, 10) : 0;
}

// mallinfo2 counts the main arena only, and benchmarks run on other threads, whose arenas it would
// miss; malloc_info's totals (after the last per-arena <heap>) cover every arena.
size_t heap_bytes_in_use(void) {
    char *text = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&text, &length);
    if (!stream) return 0;
    malloc_info(0, stream);
    fclose(stream);
    const char *totals = text;
    for (const char *at = text; (at = strstr(at, "</heap>")); at += 7) totals = at;
    size_t system = size_of(totals, "<system type=\"current\"");
    size_t free_fast = size_of(totals, "<total type=\"fast\"");
    size_t free_rest = size_of(totals, "<total type=\"rest\"");
    size_t mapped = size_of(totals, "<total type=\"mmap\"");
    free(text);
    return system - free_fast - free_rest + mapped;
}
#else
size_t heap_bytes_in_use(void) { return 0; }
#endif

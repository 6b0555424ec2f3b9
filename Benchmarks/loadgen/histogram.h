// Latency histogram: log-linear, 128 sub-buckets per power of two (under 1% error), microseconds.
#pragma once
#include <stdint.h>
#include <stdio.h>

#define SUB_BITS 7
#define SUB_COUNT (1 << SUB_BITS)
#define OCTAVES 40
typedef struct { uint64_t counts[OCTAVES * SUB_COUNT]; uint64_t total; } Histogram;

void histogram_record(Histogram *h, uint64_t micros);
// The q-th percentile (0-100) in milliseconds, on the safe side (a bucket's largest value); NaN if empty.
double histogram_percentile_ms(const Histogram *h, double q);
// [[bucket's largest value in µs, count], ...] for the non-empty buckets.
void json_histogram(FILE *out, const Histogram *h);
// {"p50":..,"p90":..,"p99":..,"p999":..,"max":..} in ms (nulls when empty).
void json_percentiles(FILE *out, const Histogram *h);

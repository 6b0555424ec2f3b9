#include "histogram.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

static int bucket_of(uint64_t value) {
    if (value < SUB_COUNT) return (int)value;
    int octave = 63 - __builtin_clzll(value) - SUB_BITS + 1;  // >= 1
    int sub = (int)(value >> octave);                          // in [SUB_COUNT/2, SUB_COUNT)
    int index = octave * (SUB_COUNT / 2) + sub;
    return index < OCTAVES * SUB_COUNT ? index : OCTAVES * SUB_COUNT - 1;
}

// The largest value a bucket holds: percentiles are reported on the safe side.
static uint64_t bucket_high(int index) {
    if (index < SUB_COUNT) return (uint64_t)index;
    int octave = index / (SUB_COUNT / 2) - 1;
    int sub = index - octave * (SUB_COUNT / 2);
    while (sub >= SUB_COUNT) { sub -= SUB_COUNT / 2; octave += 1; }
    return (((uint64_t)sub + 1) << octave) - 1;
}

void histogram_record(Histogram *h, uint64_t micros) {
    h->counts[bucket_of(micros)] += 1;
    h->total += 1;
}

double histogram_percentile_ms(const Histogram *h, double q) {
    if (h->total == 0) return NAN;
    uint64_t threshold = (uint64_t)ceil((double)h->total * q / 100.0);
    if (threshold < 1) threshold = 1;
    uint64_t seen = 0;
    for (int i = 0; i < OCTAVES * SUB_COUNT; i++) {
        seen += h->counts[i];
        if (seen >= threshold) return bucket_high(i) / 1000.0;
    }
    return NAN;
}

void json_histogram(FILE *out, const Histogram *h) {
    fprintf(out, "[");
    bool first = true;
    for (int i = 0; i < OCTAVES * SUB_COUNT; i++) {
        if (!h->counts[i]) continue;
        fprintf(out, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", bucket_high(i), h->counts[i]);
        first = false;
    }
    fprintf(out, "]");
}

void json_percentiles(FILE *out, const Histogram *h) {
    double p50 = histogram_percentile_ms(h, 50), p90 = histogram_percentile_ms(h, 90), p99 = histogram_percentile_ms(h, 99),
           p999 = histogram_percentile_ms(h, 99.9), max = histogram_percentile_ms(h, 100);
    if (h->total == 0) { fprintf(out, "{\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null}"); return; }
    fprintf(out, "{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}", p50, p90, p99, p999, max);
}

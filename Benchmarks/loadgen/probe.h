// The admission probe: one connection at a time, each timed from connect() to the status line.
#pragma once
#include <stdbool.h>

#include "wire.h"

typedef struct { Target target; int count; double interval_ms, timeout_s; const char *json_path; bool quiet; } ProbeOptions;

// Runs the probes and writes their summary (to `json_path`, or standard output); returns the exit status.
int run_probe(const ProbeOptions *options);

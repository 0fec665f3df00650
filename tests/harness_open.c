/* The fuzz_open harness, built into the test binary to replay inputs. */
#define LLVMFuzzerTestOneInput fuzz_open_input
#include "../fuzz/fuzz_open.c"

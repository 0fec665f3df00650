/* The fuzz_load harness, built into the test binary to replay inputs. */
#define LLVMFuzzerTestOneInput fuzz_load_input
#include "../fuzz/fuzz_load.c"

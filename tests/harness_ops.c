/* The fuzz_ops harness, built into the test binary to replay inputs. */
#define LLVMFuzzerTestOneInput fuzz_ops_input
#include "../fuzz/fuzz_ops.c"

// The source of glue_pch and glue_test_pch, the targets that only precompile headers
// for others to reuse (GLUE_PRECOMPILE_HEADERS): CMake wants one, and it holds nothing.

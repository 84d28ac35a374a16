// The memhog image's other workloads, for the pressure lab (bench/pressure_lab.cc): a leak whose
// pages are partly random (so that zram cannot swap them for free), a probe that touches its
// memory on a fixed period and records how late each pass ends, a reader re-reading a hot file
// and a reader streaming once through a file. memhog runs one when its first argument is a word.
#pragma once

// argv[0] is the workload's name; 0 on SIGTERM, 2 on bad arguments.
int run_workload(int argc, char** argv);

#include "ranking/signal.h"

#include <cstdio>

namespace evictd {
namespace {

constexpr std::array<std::string_view, kSignalCount> kSignalNames = {
    "memory.available",        "allocatableMemory.available",
    "memoryAndSwap.available", "allocatableMemoryAndSwap.available",
    "swap.available",          "memory.pressure",
    "nodefs.available",        "nodefs.inodesFree",
    "imagefs.available",       "imagefs.inodesFree",
    "containerfs.available",   "containerfs.inodesFree",
    "pid.available",
};

}  // namespace

std::string_view signal_name(Signal signal) {
  return kSignalNames[signal_index(signal)];
}

std::optional<Signal> parse_signal(std::string_view name) {
  for (Signal signal : kAllSignals) {
    if (signal_name(signal) == name)
      return signal;
  }
  return std::nullopt;
}

bool is_kubelet_signal(Signal signal) {
  switch (signal) {
    case Signal::kMemoryAndSwapAvailable:
    case Signal::kAllocatableMemoryAndSwapAvailable:
    case Signal::kSwapAvailable:
    case Signal::kMemoryPressure:
      return false;
    default:
      return true;
  }
}

bool met_from_above(Signal signal) {
  return signal == Signal::kMemoryPressure;
}

bool counts_swap(Signal signal) {
  return is_memory_signal(signal) && !is_kubelet_signal(signal);
}

Resource signal_resource(Signal signal) {
  switch (signal) {
    case Signal::kMemoryAvailable:
    case Signal::kAllocatableMemoryAvailable:
    case Signal::kMemoryAndSwapAvailable:
    case Signal::kAllocatableMemoryAndSwapAvailable:
    case Signal::kSwapAvailable:
    case Signal::kMemoryPressure:
      return Resource::kMemory;
    case Signal::kNodeFsAvailable:
    case Signal::kImageFsAvailable:
    case Signal::kContainerFsAvailable:
      return Resource::kEphemeralStorage;
    case Signal::kNodeFsInodesFree:
    case Signal::kImageFsInodesFree:
    case Signal::kContainerFsInodesFree:
      return Resource::kInodes;
    case Signal::kPidAvailable:
      return Resource::kPids;
  }
  return Resource::kMemory;
}

std::string_view resource_name(Resource resource) {
  switch (resource) {
    case Resource::kMemory:
      return "memory";
    case Resource::kEphemeralStorage:
      return "ephemeral-storage";
    case Resource::kInodes:
      return "inodes";
    case Resource::kPids:
      return "pids";
  }
  return "";
}

NodeCondition signal_condition(Signal signal) {
  switch (signal_resource(signal)) {
    case Resource::kMemory:
      return NodeCondition::kMemoryPressure;
    case Resource::kPids:
      return NodeCondition::kPIDPressure;
    case Resource::kEphemeralStorage:
    case Resource::kInodes:
      return NodeCondition::kDiskPressure;
  }
  return NodeCondition::kDiskPressure;
}

std::string_view condition_name(NodeCondition condition) {
  switch (condition) {
    case NodeCondition::kDiskPressure:
      return "DiskPressure";
    case NodeCondition::kMemoryPressure:
      return "MemoryPressure";
    case NodeCondition::kPIDPressure:
      return "PIDPressure";
  }
  return "";
}

bool is_memory_signal(Signal signal) {
  return signal_resource(signal) == Resource::kMemory;
}

bool is_disk_signal(Signal signal) {
  return signal_filesystem(signal).has_value();
}

std::optional<Filesystem> signal_filesystem(Signal signal) {
  switch (signal) {
    case Signal::kNodeFsAvailable:
    case Signal::kNodeFsInodesFree:
      return Filesystem::kNodeFs;
    case Signal::kImageFsAvailable:
    case Signal::kImageFsInodesFree:
      return Filesystem::kImageFs;
    case Signal::kContainerFsAvailable:
    case Signal::kContainerFsInodesFree:
      return Filesystem::kContainerFs;
    case Signal::kMemoryAvailable:
    case Signal::kAllocatableMemoryAvailable:
    case Signal::kMemoryAndSwapAvailable:
    case Signal::kAllocatableMemoryAndSwapAvailable:
    case Signal::kSwapAvailable:
    case Signal::kMemoryPressure:
    case Signal::kPidAvailable:
      return std::nullopt;
  }
  return std::nullopt;
}

QuantityFormat observation_format(Signal signal) {
  if (signal == Signal::kMemoryPressure)
    return QuantityFormat::kDecimalSI;
  const Resource resource = signal_resource(signal);
  return resource == Resource::kMemory || resource == Resource::kEphemeralStorage
             ? QuantityFormat::kBinarySI
             : QuantityFormat::kDecimalSI;
}

std::string amount_text(Signal signal, int64_t amount, int64_t capacity) {
  if (signal != Signal::kMemoryPressure)
    return Quantity::from_int(amount, observation_format(signal)).to_string();
  const double share = capacity > 0 ? 100.0 * static_cast<double>(amount) / capacity : 0.0;
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f%%", share);
  return text;
}

}  // namespace evictd

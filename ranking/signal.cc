#include "ranking/signal.h"

namespace evictd {
namespace {

constexpr std::array<std::string_view, kSignalCount> kSignalNames = {
    "memory.available",      "allocatableMemory.available", "nodefs.available",
    "nodefs.inodesFree",     "imagefs.available",           "imagefs.inodesFree",
    "containerfs.available", "containerfs.inodesFree",      "pid.available",
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

Resource signal_resource(Signal signal) {
  switch (signal) {
    case Signal::kMemoryAvailable:
    case Signal::kAllocatableMemoryAvailable:
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
    case Signal::kPidAvailable:
      return std::nullopt;
  }
  return std::nullopt;
}

QuantityFormat observation_format(Signal signal) {
  const Resource resource = signal_resource(signal);
  return resource == Resource::kMemory || resource == Resource::kEphemeralStorage
             ? QuantityFormat::kBinarySI
             : QuantityFormat::kDecimalSI;
}

}  // namespace evictd

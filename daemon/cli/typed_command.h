// The subcommand as the user typed it, so that a misspelt one is named with its likely meaning
// rather than CLI11's "A subcommand is required".
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ranking/spelling.h"

namespace evictd::cli {

// The first argument that is neither an option nor the value of one of `valued_options` (given as
// "--name VALUE"; "--name=VALUE" is one argument).
inline std::optional<std::string> typed_command(int argc, char** argv,
                                                std::span<const std::string_view> valued_options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--")
      return i + 1 < argc ? std::optional<std::string>(argv[i + 1]) : std::nullopt;
    if (arg.starts_with("-")) {
      for (const auto option : valued_options) {
        if (arg == option)
          ++i;  // its value follows
      }
      continue;
    }
    return std::string(arg);
  }
  return std::nullopt;
}

// "unknown command "stauts" (did you mean "status"?); the commands are status, pods, ..." when the
// typed command is not one of `commands`; nullopt when it is, or none was typed.
inline std::optional<std::string> unknown_command(int argc, char** argv,
                                                  std::span<const std::string_view> valued_options,
                                                  std::span<const std::string_view> commands) {
  const auto typed = typed_command(argc, argv, valued_options);
  if (!typed)
    return std::nullopt;
  std::string list;
  for (const auto command : commands) {
    if (command == *typed)
      return std::nullopt;
    list += (list.empty() ? "" : ", ") + std::string(command);
  }
  return "unknown command \"" + *typed + "\"" + did_you_mean(*typed, commands) +
         "; the commands are " + list;
}

}  // namespace evictd::cli

// The name a misspelt one most likely meant, for errors that suggest the fix ("did you mean ...?"):
// configuration fields, signals, subcommands.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace evictd {

// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
// transpositions of neighbours, case-insensitive), if it is close enough to be a slip of the
// keyboard: at most a third of the word's length, and at least one edit allowed. Ties go to the
// first candidate.
std::optional<std::string> closest_spelling(std::string_view word,
                                            std::span<const std::string_view> candidates);

// " (did you mean \"status\"?)", or "" when nothing is close.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace evictd

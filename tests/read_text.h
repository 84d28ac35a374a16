// Reads a whole file as text for tests ("" when it cannot be read).
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace evictd::testing_util {

inline std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace evictd::testing_util

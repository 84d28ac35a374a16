#include "daemon/kube/names.h"

#include <cstdio>

namespace evictd::kube {
namespace {

bool is_alphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool is_label_text(std::string_view part) {
  if (part.empty() || !is_alphanumeric(part.front()) || !is_alphanumeric(part.back()))
    return false;
  for (char c : part) {
    if (!is_alphanumeric(c) && c != '-')
      return false;
  }
  return true;
}

bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '~' || c == '.';
}

}  // namespace

bool is_dns_label(std::string_view name) {
  return name.size() <= kMaxLabelLength && is_label_text(name);
}

bool is_dns_subdomain(std::string_view name) {
  if (name.empty() || name.size() > kMaxSubdomainLength)
    return false;
  for (size_t start = 0;;) {
    const size_t dot = name.find('.', start);
    if (!is_label_text(name.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos)
      return true;
    start = dot + 1;
  }
}

std::string dns_subdomain_problem(std::string_view name) {
  if (name.empty())
    return "is empty";
  if (name.size() > kMaxSubdomainLength)
    return "is " + std::to_string(name.size()) + " characters long; a name has at most " +
           std::to_string(kMaxSubdomainLength);
  if (is_dns_subdomain(name))
    return "";
  // Shown whole only when short: the value may be anything, of any length.
  const std::string shown =
      name.size() <= 64 ? std::string(name) : std::string(name.substr(0, 64)) + "...";
  return "must be a DNS subdomain (lowercase letters, digits, '-' and '.', starting and ending "
         "with a letter or digit), not \"" +
         shown + "\"";
}

std::string escape_path_segment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (char c : segment) {
    // A segment of dots alone would walk the path; its dots are escaped too.
    if (is_unreserved(c) &&
        !(c == '.' && segment.find_first_not_of('.') == std::string_view::npos)) {
      out += c;
      continue;
    }
    char encoded[4];
    std::snprintf(encoded, sizeof(encoded), "%%%02X", static_cast<unsigned char>(c));
    out += encoded;
  }
  return out;
}

}  // namespace evictd::kube

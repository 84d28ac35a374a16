// Object names as the API server validates them, and their escaping in URL paths: what keeps a
// name from changing the request evictd sends.
#include "daemon/kube/names.h"

#include <gtest/gtest.h>

namespace evictd::kube {
namespace {

TEST(Names, NodeNamesFollowTheDnsSubdomainRules) {
  for (const char* good : {"n1", "node-1", "ip-10-0-0-1.ec2.internal", "a", "0"})
    EXPECT_TRUE(is_dns_subdomain(good)) << good;
  for (const char* bad : {"", "Node1", "node_1", "-node", "node-", "a..b", ".a", "a.", "a/b",
                          "evil/../../namespaces/x?y=1&z", "n 1", "n%2F1"})
    EXPECT_FALSE(is_dns_subdomain(bad)) << bad;
  EXPECT_TRUE(is_dns_subdomain(std::string(253, 'a')));
  EXPECT_FALSE(is_dns_subdomain(std::string(254, 'a')));
}

TEST(Names, NamespacesAreLabels) {
  EXPECT_TRUE(is_dns_label("kube-system"));
  EXPECT_FALSE(is_dns_label("kube.system"));
  EXPECT_TRUE(is_dns_label(std::string(63, 'a')));
  EXPECT_FALSE(is_dns_label(std::string(64, 'a')));
}

TEST(Names, TheProblemIsSaidAndALongValueIsShortened) {
  EXPECT_EQ(dns_subdomain_problem("n1"), "");
  EXPECT_EQ(dns_subdomain_problem(""), "is empty");
  EXPECT_EQ(dns_subdomain_problem(std::string(5000, 'a')),
            "is 5000 characters long; a name has at most 253");
  const std::string problem = dns_subdomain_problem("Bad_" + std::string(100, 'x'));
  EXPECT_NE(problem.find("must be a DNS subdomain"), std::string::npos);
  EXPECT_NE(problem.find("\"Bad_" + std::string(60, 'x') + "...\""), std::string::npos) << problem;
}

TEST(Names, ASegmentCannotChangeThePathItIsPutIn) {
  EXPECT_EQ(escape_path_segment("web-1.shop"), "web-1.shop");
  EXPECT_EQ(escape_path_segment("evil/../../namespaces/x?y=1&z"),
            "evil%2F..%2F..%2Fnamespaces%2Fx%3Fy%3D1%26z");
  EXPECT_EQ(escape_path_segment(".."), "%2E%2E");
  EXPECT_EQ(escape_path_segment("."), "%2E");
  EXPECT_EQ(escape_path_segment("a#b%c d"), "a%23b%25c%20d");
}

}  // namespace
}  // namespace evictd::kube

#include "ranking/quantity.h"

#include <gtest/gtest.h>

namespace evictd {
namespace {

struct Canonical {
  const char* input;
  const char* printed;
};

class QuantityCanonicalTest : public testing::TestWithParam<Canonical> {};

TEST_P(QuantityCanonicalTest, PrintsAsKubernetes) {
  auto q = Quantity::parse(GetParam().input);
  ASSERT_TRUE(q.ok()) << GetParam().input << ": " << q.error().message;
  EXPECT_EQ(q->to_string(), GetParam().printed) << GetParam().input;
}

INSTANTIATE_TEST_SUITE_P(
    Table, QuantityCanonicalTest,
    testing::Values(Canonical{"0", "0"}, Canonical{"00", "0"}, Canonical{"2Gi", "2Gi"},
                    Canonical{"1024Mi", "1Gi"}, Canonical{"1536Mi", "1536Mi"},
                    Canonical{"1.5Gi", "1536Mi"}, Canonical{"1500Mi", "1500Mi"},
                    Canonical{"0.5Gi", "512Mi"}, Canonical{"100m", "100m"},
                    Canonical{"0.1", "100m"}, Canonical{"1.5", "1500m"}, Canonical{"1000", "1k"},
                    Canonical{"1e3", "1e3"}, Canonical{"1E3", "1E3"}, Canonical{"5e-3", "5e-3"},
                    Canonical{"1500M", "1500M"}, Canonical{"12345", "12345"},
                    Canonical{"128974848", "128974848"}, Canonical{"2000k", "2M"},
                    Canonical{"1.1Ki", "1126400m"}, Canonical{"0.0001n", "1n"},
                    Canonical{"-100Mi", "-100Mi"}, Canonical{"+1Gi", "+1Gi"},
                    Canonical{".5", "500m"}, Canonical{"100000000000Ei", "9223372036854775807"},
                    Canonical{"1Ki", "1Ki"}, Canonical{"8Ki", "8Ki"}, Canonical{"1E", "1E"},
                    Canonical{"7u", "7u"}));

TEST(Quantity, FromIntPrintsCanonicalBinary) {
  EXPECT_EQ(Quantity::from_int(1572864000, QuantityFormat::kBinarySI).to_string(), "1500Mi");
  EXPECT_EQ(Quantity::from_int(2147483648, QuantityFormat::kBinarySI).to_string(), "2Gi");
  // Below 1Ki binary quantities print in decimal SI, as resource.Quantity does.
  EXPECT_EQ(Quantity::from_int(1000, QuantityFormat::kBinarySI).to_string(), "1k");
  EXPECT_EQ(Quantity::from_int(1025, QuantityFormat::kBinarySI).to_string(), "1025");
  EXPECT_EQ(Quantity::from_int(1073741840, QuantityFormat::kBinarySI).to_string(), "1073741840");
  EXPECT_EQ(Quantity::from_int(3000, QuantityFormat::kDecimalSI).to_string(), "3k");
  EXPECT_EQ(Quantity::from_int(0, QuantityFormat::kBinarySI).to_string(), "0");
}

TEST(Quantity, BinaryNotAMultipleOfOneKiPrintsPlainAndReparsesAsDecimal) {
  // Found by the fuzzer; resource.Quantity behaves the same way.
  const Quantity binary = *Quantity::parse("+5171812.5Ki");
  EXPECT_EQ(binary.to_string(), "5295936000");
  const Quantity reparsed = *Quantity::parse(binary.to_string());
  EXPECT_EQ(reparsed.compare(binary), 0);
  EXPECT_EQ(reparsed.to_string(), "5295936k");
}

TEST(Quantity, ValueRoundsUpAndCompares) {
  EXPECT_EQ(Quantity::parse("1Gi")->value(), 1073741824);
  EXPECT_EQ(Quantity::parse("1.5")->value(), 2);
  EXPECT_EQ(Quantity::parse("100m")->value(), 1);
  EXPECT_EQ(Quantity::parse("-1.5")->value(), -2);
  EXPECT_LT(Quantity::parse("1G")->compare(*Quantity::parse("1Gi")), 0);
  EXPECT_EQ(Quantity::parse("1k")->compare(*Quantity::parse("1000")), 0);
}

TEST(Quantity, AddTakesFormatOfFirstAndPrintsCanonically) {
  Quantity sum;
  sum.add(*Quantity::parse("100Mi"));
  sum.add(*Quantity::parse("924Mi"));
  EXPECT_EQ(sum.to_string(), "1Gi");
  Quantity diff = *Quantity::parse("1Gi");
  diff.sub(*Quantity::parse("1Gi"));
  EXPECT_TRUE(diff.is_zero());
}

class QuantityRejectTest : public testing::TestWithParam<const char*> {};

TEST_P(QuantityRejectTest, RefusesWithReason) {
  auto q = Quantity::parse(GetParam());
  ASSERT_FALSE(q.ok()) << GetParam() << " parsed as " << q->to_string();
  EXPECT_FALSE(q.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(Table, QuantityRejectTest,
                         testing::Values("", "abc", "1Gb", "1K", "1.5.5", "--1", "-", "+", "Ki",
                                         " 1Gi", "1Gi ", "1e", "1e+", "1ee3", "1x",
                                         "99999999999999999999", "1e30"));

TEST(Quantity, ErrorsNameTheProblem) {
  EXPECT_EQ(Quantity::parse("1K").error().message, "unable to parse quantity's suffix");
  // A character outside the suffix alphabet is a format error, as in apimachinery.
  EXPECT_NE(Quantity::parse("1Gb").error().message.find("regular expression"), std::string::npos);
  EXPECT_NE(Quantity::parse("abc").error().message.find("regular expression"), std::string::npos);
  EXPECT_NE(Quantity::parse("1e30").error().message.find("out of range"), std::string::npos);
}

TEST(QuantityParse, ASizeWrittenWithBytesSaysHowKubernetesSpellsIt) {
  for (const auto& [text, hint] : std::vector<std::pair<const char*, const char*>>{
           {"100MB",
            "; Kubernetes quantities have no \"B\": use 100M (10^6 bytes each) or 100Mi "
            "(2^20)"},
           {"512kB",
            "; Kubernetes quantities have no \"B\": use 512k (10^3 bytes each) or 512Ki "
            "(2^10)"},
           {"1GiB", "; Kubernetes quantities have no \"B\": use 1Gi"},
           {"64B", "; Kubernetes quantities have no \"B\": use 64"}}) {
    auto parsed = Quantity::parse(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_TRUE(parsed.error().message.ends_with(hint)) << parsed.error().message;
  }
  auto other = Quantity::parse("ten");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message.find("have no"), std::string::npos);
}

}  // namespace
}  // namespace evictd

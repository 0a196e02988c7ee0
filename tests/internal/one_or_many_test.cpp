// cfutures/detail/one_or_many.hpp: a single element held in place, more in a vector; every
// element constructed is destroyed once, whatever the sequence of changes.
#include "cfutures/detail/one_or_many.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace cfutures::detail {
namespace {

// Counts live instances, so that a leaked or doubly destroyed element shows.
struct counted {
  static inline int live = 0;
  std::unique_ptr<std::string> value;
  explicit counted(std::string v) : value(std::make_unique<std::string>(std::move(v))) { ++live; }
  counted(counted&& o) noexcept : value(std::move(o.value)) { ++live; }
  counted(const counted& o) : value(std::make_unique<std::string>(*o.value)) { ++live; }
  counted& operator=(counted&& o) noexcept {
    value = std::move(o.value);
    return *this;
  }
  ~counted() { --live; }
};

std::vector<std::string> values(const one_or_many<counted>& s) {
  std::vector<std::string> out;
  for (const counted& c : s) out.push_back(*c.value);
  return out;
}

class OneOrMany : public ::testing::Test {
 protected:
  void SetUp() override { counted::live = 0; }
  void TearDown() override { EXPECT_EQ(counted::live, 0); }
};

TEST_F(OneOrMany, HoldsOneInPlaceAndMoreInOrder) {
  one_or_many<counted> s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.begin(), s.end());
  s.push_back(counted("a"));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(*s[0].value, "a");
  s.push_back(counted("b"));
  s.push_back(counted("c"));
  EXPECT_EQ(values(s), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(counted::live, 3);
}

TEST_F(OneOrMany, MovesCarryTheElementsAndLeaveTheSourceEmpty) {
  one_or_many<counted> one;
  one.push_back(counted("x"));
  one_or_many<counted> moved(std::move(one));
  EXPECT_TRUE(one.empty());  // NOLINT(bugprone-use-after-move): moved-from is specified
  EXPECT_EQ(values(moved), std::vector<std::string>{"x"});

  one_or_many<counted> many;
  many.push_back(counted("p"));
  many.push_back(counted("q"));
  moved = std::move(many);
  EXPECT_EQ(values(moved), (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(counted::live, 2);

  one_or_many<counted> other;
  other.push_back(counted("r"));
  moved = std::move(other);
  EXPECT_EQ(values(moved), std::vector<std::string>{"r"});
  EXPECT_EQ(counted::live, 1);
}

TEST_F(OneOrMany, CopiesAreDeep) {
  one_or_many<counted> a;
  a.push_back(counted("1"));
  one_or_many<counted> b(a);
  *b[0].value = "2";
  EXPECT_EQ(values(a), std::vector<std::string>{"1"});
  a.push_back(counted("3"));
  b = a;
  EXPECT_EQ(values(b), (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(counted::live, 4);
}

TEST_F(OneOrMany, EraseIfKeepsTheOthersInOrder) {
  one_or_many<counted> one;
  one.push_back(counted("keep"));
  EXPECT_EQ(one.erase_if([](const counted& c) { return *c.value == "drop"; }), 0u);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one.erase_if([](const counted& c) { return *c.value == "keep"; }), 1u);
  EXPECT_TRUE(one.empty());
  one.push_back(counted("again"));  // in place again once empty
  EXPECT_EQ(values(one), std::vector<std::string>{"again"});

  one_or_many<counted> many;
  for (const char* v : {"a", "x", "b", "x", "c"}) many.push_back(counted(v));
  EXPECT_EQ(many.erase_if([](const counted& c) { return *c.value == "x"; }), 2u);
  EXPECT_EQ(values(many), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(OneOrMany, TruncateAndClear) {
  one_or_many<counted> s;
  for (const char* v : {"a", "b", "c"}) s.push_back(counted(v));
  s.truncate(1);
  EXPECT_EQ(values(s), std::vector<std::string>{"a"});
  s.truncate(0);
  EXPECT_TRUE(s.empty());
  s.push_back(counted("d"));
  s.truncate(1);
  EXPECT_EQ(values(s), std::vector<std::string>{"d"});
  s.truncate(0);
  EXPECT_TRUE(s.empty());
  s.push_back(counted("e"));
  s.push_back(counted("f"));
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(counted::live, 0);
}

TEST_F(OneOrMany, ReserveMovesTheElementHeldInPlace) {
  one_or_many<counted> s;
  s.push_back(counted("a"));
  s.reserve(4);
  EXPECT_EQ(values(s), std::vector<std::string>{"a"});
  s.push_back(counted("b"));
  EXPECT_EQ(values(s), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace cfutures::detail

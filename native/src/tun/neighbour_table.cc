#include "neighbour_table.h"

#include <mutex>
#include <stdexcept>

namespace ipoib::tun {

namespace {

template <typename Map, typename V>
void Put(Map& m, const IpKey& ip, const V& v) {
  auto it = m.find(ip);
  if (it != m.end()) {
    it->second = v;
    return;
  }
  if (m.size() >= NeighbourTable::kMaxEntries) throw std::length_error("the table is full");
  m.emplace(ip, v);
}

}  // namespace

void NeighbourTable::SetNeighbour(const IpKey& ip, const Neighbour& n) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  Put(neighbours_, ip, n);
}

bool NeighbourTable::DeleteNeighbour(const IpKey& ip) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  return neighbours_.erase(ip) > 0;
}

void NeighbourTable::SetGroup(const IpKey& ip, const Group& g) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  Put(groups_, ip, g);
}

bool NeighbourTable::DeleteGroup(const IpKey& ip) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  return groups_.erase(ip) > 0;
}

size_t NeighbourTable::NeighbourCount() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return neighbours_.size();
}

size_t NeighbourTable::GroupCount() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return groups_.size();
}

}  // namespace ipoib::tun

#include "neighbour_table.h"

#include <mutex>
#include <stdexcept>

namespace ipoib::tun {

template <typename T>
void NeighbourTable::Put(Map<T>& m, const IpKey& ip, const T& v) {
  auto it = m.find(ip);
  if (it != m.end()) {
    it->second.value = v;
    return;
  }
  if (m.size() >= kMaxEntries) throw std::length_error("the table is full");
  m.try_emplace(ip, v);
}

template <typename T>
void NeighbourTable::TakeUsedOf(const Map<T>& m, std::vector<IpKey>* out) {
  for (const auto& [ip, e] : m) {
    if (e.used.load(std::memory_order_relaxed) && e.used.exchange(false, std::memory_order_relaxed)) out->push_back(ip);
  }
}

NeighbourTable::Used NeighbourTable::TakeUsed() {
  // Shared: the flags are atomic, so the TX thread keeps sending meanwhile.
  std::shared_lock<std::shared_mutex> lock(mu_);
  Used u;
  TakeUsedOf(neighbours_, &u.neighbours);
  TakeUsedOf(groups_, &u.groups);
  return u;
}

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

// The address table the TX fast path reads and JavaScript writes: unicast IP -> where its
// IPoIB peer is on the fabric (LID, QPN, optional GRH), and IP group -> multicast group
// (MLID, MGID). One reader-writer lock: the TX thread holds it shared for a whole batch, a
// write from JS takes it exclusively between batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <unordered_map>

#include "../sim/ib_packet.h"
#include "packet_classify.h"

namespace ipoib::tun {

// The GRH fields a send carries when the destination needs one (always for multicast).
struct GrhFields {
  sim::Gid dgid{};
  uint8_t hopLimit = 0;
  uint8_t tclass = 0;
  uint32_t flowLabel = 0;
};

struct Neighbour {
  uint16_t dlid = 0;
  uint32_t dqpn = 0;
  // The flags octet of the neighbour's link-layer address (RFC 4755 connected-mode bits). Kept
  // for the control plane; datagram mode sends UD whatever it says.
  uint8_t flags = 0;
  uint8_t sl = 0;
  bool hasGrh = false;
  GrhFields grh;
};

struct Group {
  uint16_t mlid = 0;
  uint8_t sl = 0;
  GrhFields grh;  // grh.dgid is the MGID
};

class NeighbourTable {
 public:
  // Entries per table; a write beyond it throws std::length_error (JS sees ENOSPC).
  static constexpr size_t kMaxEntries = 1 << 20;

  void SetNeighbour(const IpKey& ip, const Neighbour& n);
  bool DeleteNeighbour(const IpKey& ip);
  void SetGroup(const IpKey& ip, const Group& g);
  bool DeleteGroup(const IpKey& ip);
  size_t NeighbourCount() const;
  size_t GroupCount() const;

  // Lookups for one TX batch under one shared lock; pointers stay valid while the Reader lives.
  class Reader {
   public:
    explicit Reader(const NeighbourTable& t) : t_(t), lock_(t.mu_) {}
    const Neighbour* FindNeighbour(const IpKey& ip) const {
      auto it = t_.neighbours_.find(ip);
      return it == t_.neighbours_.end() ? nullptr : &it->second;
    }
    const Group* FindGroup(const IpKey& ip) const {
      auto it = t_.groups_.find(ip);
      return it == t_.groups_.end() ? nullptr : &it->second;
    }

   private:
    const NeighbourTable& t_;
    std::shared_lock<std::shared_mutex> lock_;
  };

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<IpKey, Neighbour, IpKeyHash> neighbours_;
  std::unordered_map<IpKey, Group, IpKeyHash> groups_;
};

}  // namespace ipoib::tun

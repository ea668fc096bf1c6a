// The address table the TX fast path reads and JavaScript writes: unicast IP -> where its
// IPoIB peer is on the fabric (LID, QPN, optional GRH; or an RC QP in connected mode), and IP group -> multicast group
// (MLID, MGID). One reader-writer lock: the TX thread holds it shared for a whole batch, a
// write from JS takes it exclusively between batches.
//
// Each entry carries a "used" flag that a TX lookup sets and TakeUsed() clears: the control
// plane ages its neighbours (and send-only groups) by their last transmit, and the fast path's
// transmits would otherwise never reach it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

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
  // for the control plane, which decides UD or RC and says so with the fields below.
  uint8_t flags = 0;
  uint8_t sl = 0;
  bool hasGrh = false;
  GrhFields grh;
  // Connected mode: unicast IP packets go as one RC SEND each on the attached RC QP rcQpn (0:
  // UD), while 4 + length <= rcMtu (the connection's limit, IPoIB header included).
  uint32_t rcQpn = 0;
  uint32_t rcMtu = 0;
  // The neighbour is to be reached over RC but its connection is not ready: unicast IP packets
  // are punted as kRcPending (whatever rcQpn says).
  bool connecting = false;
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

  // The keys of the entries looked up since the last call, each flag cleared. Replacing an
  // entry keeps its flag; deleting it drops it.
  struct Used {
    std::vector<IpKey> neighbours;
    std::vector<IpKey> groups;
  };
  Used TakeUsed();

  // Lookups for one TX batch under one shared lock; pointers stay valid while the Reader lives.
  // A lookup that finds an entry marks it used.
  class Reader {
   public:
    explicit Reader(const NeighbourTable& t) : t_(t), lock_(t.mu_) {}
    const Neighbour* FindNeighbour(const IpKey& ip) const {
      auto it = t_.neighbours_.find(ip);
      if (it == t_.neighbours_.end()) return nullptr;
      it->second.MarkUsed();
      return &it->second.value;
    }
    const Group* FindGroup(const IpKey& ip) const {
      auto it = t_.groups_.find(ip);
      if (it == t_.groups_.end()) return nullptr;
      it->second.MarkUsed();
      return &it->second.value;
    }

   private:
    const NeighbourTable& t_;
    std::shared_lock<std::shared_mutex> lock_;
  };

 private:
  template <typename T>
  struct Entry {
    explicit Entry(const T& v) : value(v) {}
    T value;
    mutable std::atomic<bool> used{false};
    // Written under the shared lock by the TX thread; a load first keeps a busy entry's cache
    // line from being written on every packet.
    void MarkUsed() const {
      if (!used.load(std::memory_order_relaxed)) used.store(true, std::memory_order_relaxed);
    }
  };
  template <typename T>
  using Map = std::unordered_map<IpKey, Entry<T>, IpKeyHash>;
  template <typename T>
  static void Put(Map<T>& m, const IpKey& ip, const T& v);
  template <typename T>
  static void TakeUsedOf(const Map<T>& m, std::vector<IpKey>* out);

  mutable std::shared_mutex mu_;
  Map<Neighbour> neighbours_;
  Map<Group> groups_;
};

}  // namespace ipoib::tun

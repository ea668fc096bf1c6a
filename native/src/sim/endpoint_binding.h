// The JS face of sim::Endpoint (endpoint.h): `openSimEndpoint(config, deliver)` returns a
// handle object whose methods are thin calls into the C++ endpoint. TypeScript validates every
// argument first (src/fabric/sim/native-endpoint.ts); the checks here only keep a direct call
// with bad arguments from being undefined behaviour.
//
// Completions reach JS in batches through one ThreadSafeFunction per endpoint, as
// deliver(meta: Uint32Array, data: Buffer): meta holds kCompletionWords words per completion
// (see the kMeta* indexes below); data holds, per completion, [SGID DGID if GRH] payload [raw].
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

#include "endpoint.h"

namespace ipoib::sim {

// Word indexes of one completion in the meta array (mirrored in native-endpoint.ts).
enum CompletionWord : uint32_t {
  kMetaQpn,
  kMetaSrcQp,
  kMetaSlid,
  kMetaDlid,
  kMetaSl,
  kMetaPkey,
  kMetaPkeyIndex,
  kMetaQkey,
  kMetaFlags,  // bit 0: GRH present, bit 1: immediate data present
  kMetaImmData,
  kMetaHopLimitTclass,  // hop limit | tclass << 8
  kMetaFlowLabel,
  kMetaDataOffset,  // where this completion's octets start in `data`
  kMetaPayloadLen,
  kMetaRawLen,  // 0 unless raw packets were asked for
  kMetaPsn,
  kCompletionWords
};

// Word indexes of one send in postSendUd's descriptor array (mirrored in native-endpoint.ts);
// the DGID occupies octets kSendDgidOctet..+15 of the send's 64 octets.
enum SendWord : uint32_t {
  kSendDlid,
  kSendDqpn,
  kSendQkey,
  kSendSl,
  kSendPkeyIndex,  // 0xFFFFFFFF: the QP's
  kSendFlags,      // bit 0: GRH, bit 1: solicited, bit 2: immediate data
  kSendHopLimit,
  kSendTclass,
  kSendFlowLabel,
  kSendImmData,
  kSendWords = 16
};
constexpr uint32_t kSendDgidOctet = 40;

// The endpoint behind a handle returned by openSimEndpoint (for bench and other native
// exports); throws a TypeError for anything else and an Error when it is closed.
std::shared_ptr<Endpoint> EndpointOfHandle(const Napi::Value& handle);

}  // namespace ipoib::sim

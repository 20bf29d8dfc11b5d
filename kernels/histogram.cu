// CUDA histograms (kernels/histogram.h): the same integer statistics per
// (feature, bin) as accumulate_histogram_cpu, accumulated with integer
// atomics (order-free), and the root statistics as accumulate_totals_cpu.
#include <cooperative_groups.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "kernels/atomic_halves.h"
#include "kernels/flush_order.h"
#include "kernels/rotated_rows.h"
#include "kernels/swizzled_rows.h"
#include "kernels/tree_kernels.cuh"

namespace canopy {
namespace cuda_tree {
namespace {

// Where a histogram block accumulates: straight into the global int64
// histogram, or a privatised shared-memory copy of 64-bit or 32-bit counters
// flushed with one global atomic per non-zero counter. 32-bit counters are
// used only when no block sum can exceed 2^32 - 1, every row's weight is its
// multiplicity and the layout has no count channel (hist32_ in
// tree_backend_cuda.cu's begin): the kernels over them know at compile time
// that an entry adds its multiplicity to its class's channel and nothing else.
// 64-bit shared counters are added to with the 64-bit atomic (a
// compare-and-swap loop in shared memory) or, under
// CudaTuning::histogram_atomics_in_halves, with two 32-bit ones
// (SharedHistogramInHalves, atomic_halves.h). Mode::add(p, v) adds v to the
// counter at p.
template <typename T>
struct SharedHistogram {
  using Counter = T;
  static __device__ __forceinline__ void add(Counter* p, int64_t v) {
    if constexpr (std::is_same<T, unsigned int>::value)
      atomicAdd(p, static_cast<unsigned int>(v));
    else
      atomic_add_i64(p, v);
  }
};
struct SharedHistogramInHalves {
  using Counter = unsigned long long;
  static __device__ __forceinline__ void add(Counter* p, int64_t v) {
    add_in_halves(reinterpret_cast<uint32_t*>(p), static_cast<uint64_t>(v),
                  [](uint32_t* word, uint32_t x) { return atomicAdd(word, x); });
  }
};
struct GlobalHistogram {
  using Counter = unsigned long long;
  static __device__ __forceinline__ void add(Counter* p, int64_t v) { atomic_add_i64(p, v); }
};

// The blocks of this block's thread-block cluster (CudaTuning::
// histogram_cluster_blocks) that histogram its node and feature group: the
// cluster's ranks [first, first + count), this block the index-th of them.
// Their items are consecutive (level_plan.h), so they are too. They sum
// their shared histograms through distributed shared memory, each flushing
// its share. Without clusters (or before sm_90) a block is alone.
struct ClusterShare {
  uint32_t blocks;  // of the cluster: every one of them takes its barriers
  uint32_t first, count, index;
};

__device__ ClusterShare cluster_share(const HistItem* __restrict__ items, const HistItem& it) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
  const uint32_t n = cluster.num_blocks();
  if (n > 1) {
    const uint32_t rank = cluster.block_rank();
    const HistItem* first_item = items + (blockIdx.x - rank);
    auto same = [&](uint32_t r) { return first_item[r].node == it.node && first_item[r].j0 == it.j0; };
    uint32_t lo = rank, hi = rank + 1;
    while (lo > 0 && same(lo - 1)) --lo;
    while (hi < n && same(hi)) ++hi;
    return {n, lo, hi - lo, rank - lo};
  }
#endif
  return {1, 0, 1, 0};
}

// A barrier of the whole cluster (of the block when it is alone).
__device__ __forceinline__ void cluster_barrier(const ClusterShare& share) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (share.blocks > 1) {
    cooperative_groups::this_cluster().sync();
    return;
  }
#endif
  __syncthreads();
}

// `h` (a shared-memory address of this block) in the share's r-th block.
template <typename T>
__device__ __forceinline__ T* partner_shared(const ClusterShare& share, T* h, uint32_t r) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (share.count > 1) return cooperative_groups::this_cluster().map_shared_rank(h, share.first + r);
#endif
  return h;
}

// Entry e of a node: read from the entries, or in a root of every row once
// (NodeDesc::identity, CudaTuning::histogram_identity_root; identity_begin =
// the node's first entry, else -1), row e - identity_begin of multiplicity 1.
__device__ __forceinline__ RowEntry entry_at(const RowEntry* __restrict__ entries, int64_t e, int64_t identity_begin) {
  if (identity_begin >= 0) return RowEntry{static_cast<uint32_t>(e - identity_begin), 1u};
  return entries[e];
}

// The swizzled-rows walk (swizzled_rows.h) over entries [e0, e1) of a work
// item, kRowBytes of each row from byte `slice` (rows of `bin_stride`):
// lane l adds the slice's byte (l % kRowBytes) ^ p in step p into column
// l ^ p of the histogram h (32-bit counters, from a multiple of
// kCounterRowBytes). Every position is added, the group's or not (padding,
// unsampled features): each has its own column, which the flush skips unless
// the group holds it, so a step needs no test. kTwoChannels (k == 2): a
// step's counter address is the shifted byte select and one logic op off the
// histogram's start (swizzled_rows::two_channel_step_offset), not a
// multiply-add and an XOR. Where identity_begin >= 0
// (CudaTuning::histogram_identity_root), the entries are rows e -
// identity_begin of multiplicity 1 (entry_at); where row_classes
// (histogram_row_classes), a row's class is its last byte
// (DevTargets::class_byte; rows of one slice), else class_id[row]. (Both
// are run-time selects, uniform across the block: 9% more instructions in
// the loop's sm_90 code, 301 against 276 for two 32-byte rows, and no more
// registers; compile-time variants would take four times the code of every
// binary that links the kernels.)
template <int kRowBytes, int kThreads, bool kTwoChannels>
__device__ __forceinline__ void swizzled_walk(const HistItem& it, const RowEntry* __restrict__ entries,
                                              int64_t identity_begin, bool row_classes,
                                              const uint8_t* __restrict__ bins, int64_t bin_stride, int32_t slice,
                                              const int32_t* __restrict__ class_id, unsigned int* h, int32_t k) {
  namespace sr = swizzled_rows;
  constexpr int kWords = kRowBytes / 4;
  const int32_t lane = static_cast<int32_t>(threadIdx.x) % sr::kLanes;
  uint32_t selector[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) selector[i] = kTwoChannels ? sr::shifted_selector(lane, i) : sr::selector(lane, i);
  const uint32_t start = static_cast<uint32_t>(__cvta_generic_to_shared(h));
  // Two rows a trip: 301 instructions of sm_90 code for two 32-byte rows
  // against 178 for one without the unroll. ptxas issues the second row's
  // loads after the first row's atomics (so a lane has one row in flight),
  // and keeps them there under the 40-register launch bound even when the
  // source issues them first.
#pragma unroll 2
  for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += kThreads) {
    const RowEntry en = entry_at(entries, e, identity_begin);
    const uint8_t* row = bins + static_cast<int64_t>(en.row) * bin_stride + slice;
    uint32_t w[kWords];
    if constexpr (kRowBytes == 32) {  // two halves, the lane's first half first
      const int32_t first = sr::first_half(lane);
      const uint4 a = __ldg(reinterpret_cast<const uint4*>(row) + first);
      const uint4 b = __ldg(reinterpret_cast<const uint4*>(row) + (first ^ 1));
      w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
    } else if constexpr (kRowBytes == 16) {
      const uint4 a = __ldg(reinterpret_cast<const uint4*>(row));
      w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w;
    } else if constexpr (kRowBytes == 8) {
      const uint2 a = __ldg(reinterpret_cast<const uint2*>(row));
      w[0] = a.x, w[1] = a.y;
    } else {
      w[0] = __ldg(reinterpret_cast<const uint32_t*>(row));
    }
    const int32_t c = row_classes ? sr::class_of_last_word(sr::loaded_last_word(w, lane)) : class_id[en.row];
    sr::swizzle_words(w, lane);
    const uint32_t lane_base = kTwoChannels ? sr::lane_offset(c, lane) : sr::lane_counter(start, c, lane);
#pragma unroll
    for (int p = 0; p < kRowBytes; ++p) {
      const uint32_t b = sr::byte_of(w[p / 4], selector[p % 4]);  // kTwoChannels: 256 * the bin
      const uint32_t counter =
          kTwoChannels ? start + sr::two_channel_step_offset(b, lane_base, p) : sr::step_counter(lane_base, p, b, k);
      asm volatile("red.shared.add.u32 [%0], %1;" ::"r"(counter), "r"(en.mult) : "memory");
    }
  }
}

// How a histogram block's threads walk a work item (CudaTuning::HistogramMapping).
enum class Walk { kRows, kElements, kRowWords, kRotatedRows, kSwizzledRows };

// One block per work item: entries [e0, e1) of one node, features j0 .. j0+nj-1
// of its sample, accumulated as Mode says. kElements: thread q of the block
// takes the (entry, feature) elements q, q + blockDim, ... in entry-major
// order, loading kBatch elements' bins before adding any. kRows: a thread
// takes whole entries, kBatch of them at a time (e, e + blockDim, ...), and
// walks the group's features, loading the kBatch entries' bins of a feature
// before adding any. kRowWords (kBatch 1; rows of whole 4-byte words, at most
// HistogramPolicy::kMaxRowWords): a thread takes whole entries, loads the
// words of the row that hold the group's features at once and takes the bins
// out of them in the row's byte order. kRotatedRows (kBatch 1; rows of whole
// 4-byte words, at most rotated_rows::kLanes bytes): a thread takes whole
// entries, and each lane walks its row from its own byte position, into a
// histogram of one column a position (rotated_rows.h). kSwizzledRows (kBatch
// 1; 32-bit counters; rows of 4, 8, 16 or 32 bytes, or whole 32-byte
// slices): a thread takes whole entries, and lane l adds byte (l % nb) ^ p of
// its row's slice (from slice_start(f[0]), nb = walk_bytes(bin_stride)) in
// step p into column l ^ p (swizzled_walk). kThreads: the block size
// (CudaTuning::histogram_block_threads). kCluster (the swizzled walk only):
// the block sums its histogram with its cluster partners' (ClusterShare).
// Every walk takes a root of every row once without its entries
// (entry_at); the swizzled-rows and row-words walks take an unweighted
// entry's class from its row where DevTargets::class_byte says so.
// flush: the order of the block's flush (flush_order.h).
template <typename Mode, Walk kWalk, int kBatch, int kThreads, bool kCluster = false>
__global__ void __launch_bounds__(kThreads, HistogramPolicy::min_blocks(kWalk == Walk::kRotatedRows ||
                                                                            kWalk == Walk::kSwizzledRows,
                                                                        kThreads))
    histogram_kernel(const HistItem* __restrict__ items, const NodeDesc* __restrict__ nodes,
                     const DevJob* __restrict__ jobs, const int32_t* __restrict__ feats,
                     const uint8_t* __restrict__ bins, int64_t bin_stride, const RowEntry* __restrict__ entries,
                     DevTargets t, int32_t max_bins, unsigned long long* __restrict__ hist, FlushOrder flush) {
  using Counter = typename Mode::Counter;
  constexpr bool kShared = !std::is_same<Mode, GlobalHistogram>::value;
  static_assert(!kCluster || kWalk == Walk::kSwizzledRows, "clusters sum the swizzled walk's histograms only");
  extern __shared__ unsigned long long smem_raw[];
  Counter* smem = reinterpret_cast<Counter*>(smem_raw);
  const HistItem it = items[blockIdx.x];
  const NodeDesc nd = nodes[it.node];
  const int64_t identity_begin = nd.identity ? nd.begin : -1;
  const int32_t k = t.layout.n_channels;
  const int64_t* cq = jobs[nd.job].class_quantum;
  const int32_t* f = feats + nd.hist_feat_off + it.j0;
  const int64_t feat_stride = static_cast<int64_t>(max_bins) * k;
  unsigned long long* gh = hist + nd.hist_off + static_cast<int64_t>(it.j0) * feat_stride;
  constexpr bool kRotatedWalk = kWalk == Walk::kRotatedRows;
  constexpr bool kSwizzledWalk = kWalk == Walk::kSwizzledRows;
  const int64_t len = kRotatedWalk    ? rotated_rows::counters(max_bins, k)
                      : kSwizzledWalk ? swizzled_rows::counters(max_bins, k)
                                      : static_cast<int64_t>(it.nj) * feat_stride;
  Counter* h = nullptr;
  if constexpr (kShared) {
    h = smem;
    if constexpr (kSwizzledWalk) {
      const uint32_t base = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
      h += (swizzled_rows::histogram_start(base) - base) / sizeof(Counter);
    }
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) h[i] = 0;
    __syncthreads();
  } else {
    h = gh;
  }
  constexpr bool kPlainClasses = std::is_same<Counter, unsigned int>::value;
  const bool regression = !kPlainClasses && t.layout.regression();
  const int32_t cc = kPlainClasses ? -1 : t.layout.count_channel;
  const bool row_classes = kPlainClasses && t.class_byte >= 0;
  // An entry's statistics, then their addition to feature j's histogram (j of
  // this group): histogram.h's add_row_statistics split in two, so that an
  // entry's weight, class and target are read once for all its features
  // (class_in_row: its class from its row's class byte).
  struct EntryStats {
    uint32_t row, mult;
    int32_t c0;  // classification: the class channel; regression: 0
    int64_t w, wy;
  };
  auto stats_of = [&](const RowEntry& en, bool class_in_row = false) {
    EntryStats st{en.row, en.mult, 0,
                  kPlainClasses ? static_cast<int64_t>(en.mult) : row_weight(t, cq, en.row, en.mult), 0};
    if (regression)
      st.wy = st.w * t.y_fixed[en.row];
    else if (class_in_row)
      st.c0 = __ldg(bins + static_cast<int64_t>(en.row) * bin_stride + t.class_byte);
    else
      st.c0 = t.class_id[en.row];
    return st;
  };
  auto bin_of = [&](const EntryStats& st, int32_t j) {
    return bins[static_cast<int64_t>(st.row) * bin_stride + f[j]];
  };
  // s: the counters of one bin of one feature.
  auto add_at = [&](Counter* s, const EntryStats& st) {
    Mode::add(s + st.c0, st.w);
    if (regression) Mode::add(s + 1, st.wy);
    if (cc >= 0) Mode::add(s + cc, static_cast<int64_t>(st.mult));
  };
  auto add = [&](const EntryStats& st, int32_t j, uint8_t b) {
    add_at(h + static_cast<int64_t>(j) * feat_stride + static_cast<int64_t>(b) * k, st);
  };
  if constexpr (kWalk == Walk::kElements) {
    // Element q is (entry q / nj, feature q % nj); the host keeps
    // (e1 - e0) * nj below 2^31. Stepping by blockDim advances the pair by
    // (blockDim / nj, blockDim % nj), so no division inside the loop. Each
    // round loads kBatch elements before adding any.
    const uint32_t nj = static_cast<uint32_t>(it.nj);
    const uint32_t n_elements = static_cast<uint32_t>(it.e1 - it.e0) * nj;
    const uint32_t step_e = blockDim.x / nj, step_j = blockDim.x % nj;
    uint32_t e = threadIdx.x / nj, j = threadIdx.x % nj;
    for (uint32_t q = threadIdx.x; q < n_elements; q += kBatch * blockDim.x) {
      EntryStats st[kBatch];
      int32_t jb[kBatch];
      uint8_t b[kBatch];
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        if (q + u * blockDim.x < n_elements) {
          st[u] = stats_of(entry_at(entries, it.e0 + e, identity_begin));
          jb[u] = static_cast<int32_t>(j);
          b[u] = bin_of(st[u], jb[u]);
        }
        e += step_e;
        j += step_j;
        if (j >= nj) {
          j -= nj;
          ++e;
        }
      }
#pragma unroll
      for (int u = 0; u < kBatch; ++u)
        if (q + u * blockDim.x < n_elements) add(st[u], jb[u], b[u]);
    }
  } else if constexpr (kWalk == Walk::kRowWords) {
    // The group's features in byte order: order[p] = (offset of its
    // histogram, shift of its byte in its word); word_start[u] = the first p
    // in word u (host: nj <= kMaxRowWords * 4, 4-byte rows).
    constexpr int kWords = HistogramPolicy::kMaxRowWords;
    static_assert(sizeof(int2) * kWords * 4 + sizeof(int32_t) * (kWords + 1) <= HistogramPolicy::kStaticSharedBytes,
                  "the byte-order tables exceed the static shared memory set aside for them");
    __shared__ int2 order[kWords * 4];
    __shared__ int32_t word_start[kWords + 1];
    for (int32_t j = threadIdx.x; j < it.nj; j += blockDim.x) {
      const int32_t fj = f[j];
      int32_t rank = 0;
      for (int32_t i = 0; i < it.nj; ++i) rank += f[i] < fj;
      order[rank] = make_int2(static_cast<int32_t>(j * feat_stride), (fj & 3) * 8);
    }
    for (int32_t u = threadIdx.x; u <= kWords; u += blockDim.x) {
      int32_t before = 0;
      for (int32_t i = 0; i < it.nj; ++i) before += f[i] < 4 * u;
      word_start[u] = before;
    }
    uint32_t used = 0;  // bit u: word u holds a feature of the group
    for (int32_t j = 0; j < it.nj; ++j) used |= 1u << (f[j] >> 2);
    __syncthreads();
    for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x) {
      const EntryStats st = stats_of(entry_at(entries, e, identity_begin), row_classes);
      const uint32_t* row = reinterpret_cast<const uint32_t*>(bins + static_cast<int64_t>(st.row) * bin_stride);
      uint32_t w[kWords];
#pragma unroll
      for (int u = 0; u < kWords; ++u) w[u] = used >> u & 1u ? __ldg(row + u) : 0u;
      int32_t p = 0;
#pragma unroll
      for (int u = 0; u < kWords; ++u) {
        if (!(used >> u & 1u)) continue;
        for (const int32_t p1 = word_start[u + 1]; p < p1; ++p) {
          const int2 o = order[p];
          add_at(h + o.x + static_cast<int32_t>((w[u] >> o.y) & 0xffu) * k, st);
        }
      }
    }
  } else if constexpr (kRotatedWalk) {
    namespace rr = rotated_rows;
    static_assert(kBatch == 1 && kThreads % rr::kLanes == 0, "the rotated-rows walk takes whole warps, one row a lane");
    constexpr int kWords = rr::kLanes / 4;
    const int32_t nb = static_cast<int32_t>(bin_stride), n_words = nb / 4;
    const int32_t lane = static_cast<int32_t>(threadIdx.x) % rr::kLanes,
                  warp = static_cast<int32_t>(threadIdx.x) / rr::kLanes;
    const int32_t r = rr::rotation(lane, nb);
    // Every position is added, the group's or not (padding, unsampled
    // features): each has its own column, which the flush skips unless the
    // group holds it, so a step needs no test.
    Counter* const lane_h = h + rr::column(rr::copy(lane, nb), nb, 0);
    const int32_t active = rr::active_lanes(nb);
    const int64_t rows_a_round = static_cast<int64_t>(kThreads / rr::kLanes) * active;
    for (int64_t e = it.e0 + static_cast<int64_t>(warp) * active + lane; lane < active && e < it.e1;
         e += rows_a_round) {
      const EntryStats st = stats_of(entry_at(entries, e, identity_begin));
      const uint32_t* row = reinterpret_cast<const uint32_t*>(bins + static_cast<int64_t>(st.row) * bin_stride);
      // The words' indices and the steps' positions are stepped along the
      // ring from values the compiler cannot hoist out of the row loop: it
      // would otherwise keep every word's index and every step's position
      // and column in registers (over 128 a thread).
      int32_t word = rr::first_word(r), q = r;
      asm volatile("" : "+r"(word), "+r"(q));
      uint32_t w[kWords];
#pragma unroll
      for (int u = 0; u < kWords; ++u) {
        w[u] = u < n_words ? __ldg(row + word) : 0u;
        word = rr::next_position(word, n_words);
      }
#pragma unroll
      for (int u = 0; u < kWords; ++u) {
        if (u >= n_words) break;
        const uint32_t next = u + 1 < n_words ? w[(u + 1) % kWords] : w[0];  // the row is a ring
        const uint32_t v = rr::rotated_word(w[u], next, r);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          Counter* s0 = lane_h + rr::column_counter(static_cast<int64_t>((v >> (8 * i)) & 0xffu) * k, q);
          Mode::add(s0 + st.c0 * rr::kLanes, st.w);
          if (regression) Mode::add(s0 + rr::kLanes, st.wy);
          if (cc >= 0) Mode::add(s0 + cc * rr::kLanes, static_cast<int64_t>(st.mult));
          q = rr::next_position(q, nb);
        }
      }
    }
  } else if constexpr (kSwizzledWalk) {
    static_assert(kBatch == 1 && kThreads % swizzled_rows::kLanes == 0 && kPlainClasses,
                  "the swizzled-rows walk takes whole warps, one row a lane, and 32-bit counters");
    // The host takes the walk for these widths only (swizzled_rows::takes);
    // a row wider than a slice is walked from its group's slice.
    const int32_t slice = swizzled_rows::slice_start(f[0]);
    auto walk = [&](auto row_bytes) {
      constexpr int kRowBytes = decltype(row_bytes)::value;
      if (k == swizzled_rows::kTwoChannels)
        swizzled_walk<kRowBytes, kThreads, true>(it, entries, identity_begin, row_classes, bins, bin_stride, slice,
                                                 t.class_id, h, k);
      else
        swizzled_walk<kRowBytes, kThreads, false>(it, entries, identity_begin, row_classes, bins, bin_stride, slice,
                                                  t.class_id, h, k);
    };
    switch (swizzled_rows::walk_bytes(bin_stride)) {
      case 32:
        walk(std::integral_constant<int, 32>{});
        break;
      case 16:
        walk(std::integral_constant<int, 16>{});
        break;
      case 8:
        walk(std::integral_constant<int, 8>{});
        break;
      default:
        walk(std::integral_constant<int, 4>{});
        break;
    }
  } else {
    // Entries e + u * blockDim (u < kBatch) of this thread; a feature's index
    // is loaded once for all of them.
    for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += kBatch * blockDim.x) {
      EntryStats st[kBatch];
      const uint8_t* row[kBatch];
      bool in[kBatch];
#pragma unroll
      for (int u = 0; u < kBatch; ++u) {
        in[u] = e + u * blockDim.x < it.e1;
        if (in[u]) {
          st[u] = stats_of(entry_at(entries, e + u * blockDim.x, identity_begin));
          row[u] = bins + static_cast<int64_t>(st[u].row) * bin_stride;
        }
      }
      for (int32_t j = 0; j < it.nj; ++j) {
        const int32_t fj = f[j];
        uint8_t b[kBatch];
#pragma unroll
        for (int u = 0; u < kBatch; ++u)
          if (in[u]) b[u] = row[u][fj];
#pragma unroll
        for (int u = 0; u < kBatch; ++u)
          if (in[u]) add(st[u], j, b[u]);
      }
    }
  }
  if constexpr (kRotatedWalk || kSwizzledWalk) {
    // (position q, bin-channel bc) in flush_order.h's steps: consecutive
    // threads (or thread groups) read consecutive columns. Sums the copies of
    // q into its group feature.
    // (The swizzled-rows walk's columns are the rotated walk's, over the
    // group's slice of the row: copy c's position q in column c * nb + q.)
    static_assert(sizeof(int32_t) * rotated_rows::kLanes <= HistogramPolicy::kStaticSharedBytes,
                  "the position table exceeds the static shared memory set aside for it");
    __shared__ int32_t feature_of[rotated_rows::kLanes];  // position -> j; -1: not in the group
    const int32_t nb = kSwizzledWalk ? swizzled_rows::walk_bytes(bin_stride) : static_cast<int32_t>(bin_stride);
    const int32_t copies = rotated_rows::copies(nb), first = kSwizzledWalk ? swizzled_rows::slice_start(f[0]) : 0;
    for (int32_t q = threadIdx.x; q < nb; q += blockDim.x) feature_of[q] = -1;
    __syncthreads();
    for (int32_t j = threadIdx.x; j < it.nj; j += blockDim.x) feature_of[f[j] - first] = j;
    const ClusterShare share = kCluster ? cluster_share(items, it) : ClusterShare{1, 0, 1, 0};
    cluster_barrier(share);  // the partners' walks are done too
    // This block's share of the bin-channels, summed over the partners' copies
    // (nb x feat_stride < 2^31: the 32 columns fit shared memory).
    int32_t bc0 = 0, bc1 = static_cast<int32_t>(feat_stride);
    if constexpr (kCluster) {
      bc0 = flush_share_begin(static_cast<int32_t>(feat_stride), share.index, share.count);
      bc1 = flush_share_begin(static_cast<int32_t>(feat_stride), share.index + 1, share.count);
    }
    // Steps [r0, r1) of this block's share, the cursor stepping (run, q).
    const int32_t group = flush_group(flush.sectors), threads = static_cast<int32_t>(blockDim.x);
    const int32_t sub = static_cast<int32_t>(threadIdx.x) % group, stride = threads / group;
    auto flush_steps_from = [&](int32_t r0, int32_t r1) {
      const int32_t first = r0 + static_cast<int32_t>(threadIdx.x) / group;
      rotated_rows::FlushCursor at(first, stride, nb);
      for (int32_t r = first; r < r1; r += stride, at.next(nb)) {
        const int32_t j = feature_of[at.q], bc = bc0 + group * at.bc + sub;
        if (j < 0 || bc >= bc1) continue;
        unsigned long long v = 0;
        if constexpr (kCluster) {
          for (uint32_t p = 0; p < share.count; ++p)
            v += rotated_rows::sum_copies(partner_shared(share, h, p), bc, nb, at.q, copies);
        } else {
          v = rotated_rows::sum_copies(h, bc, nb, at.q, copies);
        }
        if (v != 0ull) atomicAdd(gh + j * feat_stride + bc, v);
      }
    };
    const int32_t steps = flush_steps(bc1 - bc0, nb, group);
    const int32_t from = flush_start(0, steps, blockIdx.x, stride, flush.staggered);
    flush_steps_from(from, steps);
    flush_steps_from(0, from);
    if (share.blocks > 1) cluster_barrier(share);  // the partners are done reading this block's histogram
  } else if constexpr (kShared) {
    __syncthreads();
    // len < 2^31: the group's histogram fits shared memory.
    const int32_t n = static_cast<int32_t>(len), threads = static_cast<int32_t>(blockDim.x);
    const int32_t from = flush_start(0, n, blockIdx.x, threads, flush.staggered);
    auto flush_from = [&](int32_t i0, int32_t i1) {
      for (int32_t i = i0 + static_cast<int32_t>(threadIdx.x); i < i1; i += threads) {
        const unsigned long long v = smem[i];
        if (v != 0ull) atomicAdd(gh + i, v);
      }
    };
    flush_from(from, n);
    flush_from(0, from);
  }
}

// Grid (task, slice of kValuesPerBlock values): HistCombine over `len` values.
__global__ void __launch_bounds__(CombinePolicy::kBlockThreads)
    combine_kernel(const HistCombine* __restrict__ tasks, int64_t len, int64_t* out_base, const int64_t* from_base,
                   const int64_t* minus_base) {  // out_base and minus_base may be one array (disjoint ranges)
  const HistCombine task = tasks[blockIdx.x];
  for (int64_t x0 = static_cast<int64_t>(blockIdx.y) * CombinePolicy::kValuesPerBlock; x0 < len;
       x0 += static_cast<int64_t>(gridDim.y) * CombinePolicy::kValuesPerBlock) {
    const int64_t x1 = min(len, x0 + CombinePolicy::kValuesPerBlock);
    for (int64_t x = x0 + threadIdx.x; x < x1; x += blockDim.x)
      out_base[task.out + x] = from_base[task.from + x] - (task.minus >= 0 ? minus_base[task.minus + x] : 0);
  }
}

// One block per work item (job = item.seg, entries [e0, e1)): adds the items'
// statistics to root (n_jobs x k). kShared: summed in shared memory first,
// then one global atomic per channel.
template <bool kShared>
__global__ void root_stats_kernel(const PartItem* __restrict__ items, const DevJob* __restrict__ jobs,
                                  const RowEntry* __restrict__ entries, DevTargets t,
                                  unsigned long long* __restrict__ root) {
  extern __shared__ unsigned long long acc_shared[];
  const PartItem it = items[blockIdx.x];
  const int32_t k = t.layout.n_channels;
  unsigned long long* out = root + static_cast<int64_t>(it.seg) * k;
  unsigned long long* acc = kShared ? acc_shared : out;
  if (kShared) {
    for (int32_t c = threadIdx.x; c < k; c += blockDim.x) acc[c] = 0ull;
    __syncthreads();
  }
  const int64_t* cq = jobs[it.seg].class_quantum;
  for (int64_t e = it.e0 + threadIdx.x; e < it.e1; e += blockDim.x) {
    const RowEntry en = entries[e];
    add_row_statistics(t.layout, en.row, en.mult, row_weight(t, cq, en.row, en.mult), t.class_id, t.y_fixed,
                       [acc](int32_t c, int64_t v) { atomic_add_i64(acc + c, v); });
  }
  if (kShared) {
    __syncthreads();
    for (int32_t c = threadIdx.x; c < k; c += blockDim.x)
      if (acc[c] != 0ull) atomicAdd(out + c, acc[c]);
  }
}

using HistogramKernel = void (*)(const HistItem*, const NodeDesc*, const DevJob*, const int32_t*, const uint8_t*,
                                 int64_t, const RowEntry*, DevTargets, int32_t, unsigned long long*, FlushOrder);

// The histogram_kernel variant for a tuning's mapping, load batch and block
// size; the row-words walk only where the rows allow it (row_words_fit).
// (Each variant is compiled into every binary that links the kernels: the
// set is kept to those worth measuring.)
template <typename Mode, Walk kWalk, int kBatch, bool kCluster = false>
HistogramKernel histogram_variant(int threads) {
  return threads == HistogramPolicy::kWideBlockThreads
             ? histogram_kernel<Mode, kWalk, kBatch, HistogramPolicy::kWideBlockThreads, kCluster>
             : histogram_kernel<Mode, kWalk, kBatch, HistogramPolicy::kBlockThreads, kCluster>;
}

template <typename Mode, Walk kWalk>
HistogramKernel histogram_variant(int batch, int threads) {
  return batch == HistogramPolicy::kLoadBatch ? histogram_variant<Mode, kWalk, HistogramPolicy::kLoadBatch>(threads)
                                              : histogram_variant<Mode, kWalk, 1>(threads);
}

template <typename Mode>
HistogramKernel histogram_variant(const CudaTuning& tuning, int64_t bin_stride) {
  const int threads = histogram_block_threads(tuning);
  switch (tuning.histogram_mapping) {
    case CudaTuning::HistogramMapping::kElementPerThread:
      return histogram_variant<Mode, Walk::kElements>(tuning.histogram_load_batch, threads);
    case CudaTuning::HistogramMapping::kRowWords:
      if (row_words_fit(bin_stride)) return histogram_variant<Mode, Walk::kRowWords, 1>(threads);
      break;
    case CudaTuning::HistogramMapping::kRotatedRows:  // the host checked the rows, groups and fit (HistogramWalks)
      return histogram_variant<Mode, Walk::kRotatedRows, 1>(threads);
    case CudaTuning::HistogramMapping::kSwizzledRows:  // HistogramWalks checked rows, groups, counters, fit
      if constexpr (std::is_same<Mode, SharedHistogram<unsigned int>>::value)
        return tuning.histogram_cluster_blocks > 1 ? histogram_variant<Mode, Walk::kSwizzledRows, 1, true>(threads)
                                                   : histogram_variant<Mode, Walk::kSwizzledRows, 1>(threads);
      else  // its shared memory was sized for the swizzled block: no other walk may take it
        throw std::logic_error("cuda: the swizzled-rows walk takes 32-bit counters only");
    case CudaTuning::HistogramMapping::kRowPerThread:
      break;
  }
  return histogram_variant<Mode, Walk::kRows>(tuning.histogram_load_batch, threads);
}

HistogramKernel histogram_variant(HistogramCounters counters, const CudaTuning& tuning, int64_t bin_stride) {
  switch (counters) {
    case HistogramCounters::kShared32:
      return histogram_variant<SharedHistogram<unsigned int>>(tuning, bin_stride);
    case HistogramCounters::kShared64:
      return tuning.histogram_atomics_in_halves
                 ? histogram_variant<SharedHistogramInHalves>(tuning, bin_stride)
                 : histogram_variant<SharedHistogram<unsigned long long>>(tuning, bin_stride);
    case HistogramCounters::kGlobal:
      break;
  }
  // The global-atomic fallback (histograms too wide for shared memory) is
  // bound by its global atomics: the row walk alone.
  return histogram_variant<GlobalHistogram, Walk::kRows, 1>(histogram_block_threads(tuning));
}

// Whether the variant for `counters` and `tuning` sums a cluster's histograms
// (histogram_kernel's kCluster): the swizzled-rows walk's alone.
bool clustered(HistogramCounters counters, const CudaTuning& tuning) {
  return counters == HistogramCounters::kShared32 &&
         tuning.histogram_mapping == CudaTuning::HistogramMapping::kSwizzledRows;
}

// Dynamic shared memory that takes a block (with the kernel's static shared
// memory) above 48 KiB must be opted into, per kernel.
void allow_shared_bytes(HistogramKernel kernel, std::size_t smem) {
  cudaFuncAttributes attributes{};
  CANOPY_CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
  if (smem + attributes.sharedSizeBytes > HistogramPolicy::kSharedBytes)
    CANOPY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
}

}  // namespace

bool build_histograms(HistogramCounters counters, const CudaTuning& tuning, unsigned grid, std::size_t smem,
                      const HistItem* items, const NodeDesc* nodes, const DevJob* jobs, const int32_t* feats,
                      const uint8_t* bins, int64_t bin_stride, const RowEntry* entries, const DevTargets& t,
                      int32_t max_bins, unsigned long long* hist) {
  if (grid == 0) return false;
  if (counters == HistogramCounters::kGlobal) smem = 0;
  FlushOrder flush;
  flush.staggered = tuning.histogram_staggered_flush;
  flush.sectors = tuning.histogram_sector_flush;
  const HistogramKernel kernel = histogram_variant(counters, tuning, bin_stride);
  allow_shared_bytes(kernel, smem);
  const unsigned threads = static_cast<unsigned>(histogram_block_threads(tuning));
  const unsigned cluster_blocks = static_cast<unsigned>(tuning.histogram_cluster_blocks);
  if (cluster_blocks > 1 && clustered(counters, tuning) && grid % cluster_blocks == 0) {
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(grid);
    config.blockDim = dim3(threads);
    config.dynamicSmemBytes = smem;
    cudaLaunchAttribute cluster{};
    cluster.id = cudaLaunchAttributeClusterDimension;
    cluster.val.clusterDim.x = cluster_blocks;
    cluster.val.clusterDim.y = 1;
    cluster.val.clusterDim.z = 1;
    config.attrs = &cluster;
    config.numAttrs = 1;
    // A device that cannot run such clusters (before sm_90, or blocks too
    // large for them) takes the plain launch: the blocks then flush one by one.
    int max_clusters = 0;
    if (cudaOccupancyMaxActiveClusters(&max_clusters, kernel, &config) == cudaSuccess && max_clusters > 0) {
      CANOPY_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, items, nodes, jobs, feats, bins, bin_stride, entries, t,
                                           max_bins, hist, flush));
      return true;
    }
    (void)cudaGetLastError();  // the occupancy query's error, if any, is not the launch's
  }
  kernel<<<grid, threads, smem>>>(items, nodes, jobs, feats, bins, bin_stride, entries, t, max_bins, hist, flush);
  CANOPY_CUDA_CHECK_LAUNCH();
  return false;
}

int histogram_blocks_per_sm(HistogramCounters counters, const CudaTuning& tuning, int64_t bin_stride, std::size_t smem) {
  if (counters == HistogramCounters::kGlobal) smem = 0;
  const HistogramKernel kernel = histogram_variant(counters, tuning, bin_stride);
  allow_shared_bytes(kernel, smem);
  int blocks = 0;
  CANOPY_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, histogram_block_threads(tuning), smem));
  return blocks;
}

void combine_histograms(const HistCombine* tasks, int32_t n_tasks, int64_t len, int64_t* out_base,
                        const int64_t* from_base, const int64_t* minus_base) {
  if (n_tasks == 0 || len == 0) return;
  const int64_t slices = (len + CombinePolicy::kValuesPerBlock - 1) / CombinePolicy::kValuesPerBlock;
  const dim3 grid(static_cast<unsigned>(n_tasks), static_cast<unsigned>(std::min<int64_t>(slices, 65535)));
  combine_kernel<<<grid, CombinePolicy::kBlockThreads>>>(tasks, len, out_base, from_base, minus_base);
  CANOPY_CUDA_CHECK_LAUNCH();
}

void root_statistics(const PartItem* items, unsigned n_items, const DevJob* jobs, const RowEntry* entries,
                     const DevTargets& t, unsigned long long* root) {
  if (n_items == 0) return;
  const std::size_t smem = static_cast<std::size_t>(t.layout.n_channels) * sizeof(int64_t);
  if (smem <= HistogramPolicy::kSharedBytes)
    root_stats_kernel<true><<<n_items, PartitionPolicy::kBlockThreads, smem>>>(items, jobs, entries, t, root);
  else
    root_stats_kernel<false><<<n_items, PartitionPolicy::kBlockThreads>>>(items, jobs, entries, t, root);
  CANOPY_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda_tree
}  // namespace canopy

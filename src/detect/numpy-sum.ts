/**
 * numpy's float64 summation, reproduced bit for bit, so that means computed here equal `np.mean` / `np.sum` of
 * the same values in the same order (pycocotools' `summarize`, voc_eval's all-points AP).
 *
 * numpy `np.add.reduce` over a contiguous 1-D float64 array starts from the identity 0.0 and adds
 * `pairwise_sum(a, n)` (numpy/_core/src/umath/loops_utils.h.src): fewer than 8 values → a left fold;
 * up to 128 (PW_BLOCKSIZE) → 8 running accumulators, combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the
 * rest folded in; above → split at n/2 rounded down to a multiple of 8 and recurse. Checked against numpy 2.4.6
 * for n = 1…300 and up to 100,000 values (one inner loop: the reduction grows its inner loop past the buffer).
 */

const PW_BLOCKSIZE = 128;

function pairwise(values: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i]!;
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = values[start]!;
    let r1 = values[start + 1]!;
    let r2 = values[start + 2]!;
    let r3 = values[start + 3]!;
    let r4 = values[start + 4]!;
    let r5 = values[start + 5]!;
    let r6 = values[start + 6]!;
    let r7 = values[start + 7]!;
    let i = 8;
    const end = n - (n % 8);
    for (; i < end; i += 8) {
      r0 += values[start + i]!;
      r1 += values[start + i + 1]!;
      r2 += values[start + i + 2]!;
      r3 += values[start + i + 3]!;
      r4 += values[start + i + 4]!;
      r5 += values[start + i + 5]!;
      r6 += values[start + i + 6]!;
      r7 += values[start + i + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += values[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwise(values, start, n2) + pairwise(values, start + n2, n - n2);
}

/** `np.sum` of a float64 vector, bit-identical to numpy (pairwise summation, identity 0.0 first). */
export function numpySum(values: ArrayLike<number>): number {
  return 0 + pairwise(values, 0, values.length);
}

/** `np.mean` of a non-empty float64 vector, bit-identical to numpy (pairwise sum, then one division). */
export function numpyMean(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError('numpyMean: values must not be empty');
  return numpySum(values) / values.length;
}

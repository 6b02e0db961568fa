/**
 * Which channels to prune, chosen by what the layers that read them can rebuild without them (pure). For each layer
 * that reads a group's channels (a "sink": Conv, Gemm, MatMul) the Gram matrix C = XᵀX of its inputs (im2col
 * patches, plus a constant column for the bias) and its weights W [f, m] give, for any kept set K of input columns,
 * the output error left after the least-squares refit recovery does:
 *
 *   E(K) = tr(WᵀCW) − tr(B_Kᵀ C_KK⁻¹ B_K),  B = CW.
 *
 * Greedy backward elimination (ThiNet, Luo et al. 2017; with the refit in the criterion as in He et al. 2017):
 * repeatedly remove the channel whose removal raises Σ_sinks E/tr(WᵀCW) least. With P = C_KK⁻¹ and G = P·B_K kept
 * up to date by the block Schur complement, the rise for removing the columns J of one channel is
 * tr(G_Jᵀ P_JJ⁻¹ G_J), and the update is P ← P − P_{:,J}P_JJ⁻¹P_{J,:}, G ← G − P_{:,J}P_JJ⁻¹G_J. A channel
 * correlated with others (or constant: the bias absorbs it) costs little to remove even when its weights are large,
 * which filter norms do not see.
 */
import { Matrix, inverse } from 'ml-matrix';

/**
 * Inverse of a symmetric positive definite matrix [f, f] (row-major, full) by Cholesky: A = LLᵀ, A⁻¹ = L⁻ᵀL⁻¹.
 * Null when A is not positive definite. (ml-matrix's `inverse` goes through a general LU solve, ~30× slower here.)
 */
export function spdInverse(a: Float64Array, f: number): Float64Array | null {
  const l = Float64Array.from(a);
  for (let j = 0; j < f; j++) {
    const rj = j * f;
    let d = l[rj + j]!;
    for (let k = 0; k < j; k++) d -= l[rj + k]! * l[rj + k]!;
    if (!(d > 0)) return null;
    const djj = Math.sqrt(d);
    l[rj + j] = djj;
    for (let i = j + 1; i < f; i++) {
      const ri = i * f;
      let s = l[ri + j]!;
      for (let k = 0; k < j; k++) s -= l[ri + k]! * l[rj + k]!;
      l[ri + j] = s / djj;
    }
  }
  // M = L⁻¹ (lower triangular), row by row: M[i][j] = (δij − Σ_{k=j..i−1} L[i][k] M[k][j]) / L[i][i].
  const minv = new Float64Array(f * f);
  for (let i = 0; i < f; i++) {
    const ri = i * f;
    const lii = l[ri + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[ri + k]! * minv[k * f + j]!;
      minv[ri + j] = s / lii;
    }
    minv[ri + i] = 1 / lii;
  }
  // A⁻¹ = MᵀM: (i, j) = Σ_{k ≥ max(i,j)} M[k][i] M[k][j].
  const out = new Float64Array(f * f);
  for (let k = 0; k < f; k++) {
    const rk = k * f;
    for (let i = 0; i <= k; i++) {
      const mki = minv[rk + i]!;
      if (mki === 0) continue;
      const ri = i * f;
      for (let j = 0; j <= i; j++) out[ri + j]! += mki * minv[rk + j]!;
    }
  }
  for (let i = 0; i < f; i++) for (let j = 0; j < i; j++) out[j * f + i] = out[i * f + j]!;
  return out;
}

/** One sink's least-squares problem over all its input columns (the last column is the constant 1). */
export interface SinkProblem {
  /** Columns f (inputs + 1). */
  f: number;
  /** Outputs m. */
  m: number;
  /** XᵀX [f, f], row-major; only the upper triangle need be filled. */
  gram: Float64Array;
  /** Weights [f, m] (row i = input column i; the last row the bias). */
  weights: Float64Array;
  /** Columns of each channel of the group, by component index (channels absent from this sink: no entry). */
  blocks: ReadonlyMap<number, readonly number[]>;
}

/** Work budget (multiply-adds) of the greedy updates per sink; beyond it, channels are scored once at the full set. */
export const GREEDY_BUDGET = 4e9;

/** Per-sink state of the elimination. */
interface SinkState {
  problem: SinkProblem;
  /** P and G over the kept columns only, [a, a] and [a, m] (compacted after every removal). */
  p: Float64Array;
  g: Float64Array;
  /** Kept columns a; at[column] = its position in P and G (−1 once removed). */
  a: number;
  at: Int32Array;
  total: number;
  greedy: boolean;
}

/** Solve the small symmetric system A X = Y in place of a copy (Gaussian elimination, partial pivoting). Returns X [b, m]. */
function solveSmall(a: Float64Array, y: Float64Array, b: number, m: number): Float64Array {
  const A = Float64Array.from(a);
  const X = Float64Array.from(y);
  for (let c = 0; c < b; c++) {
    let piv = c;
    for (let r = c + 1; r < b; r++) if (Math.abs(A[r * b + c]!) > Math.abs(A[piv * b + c]!)) piv = r;
    if (piv !== c) {
      for (let k = 0; k < b; k++) [A[c * b + k], A[piv * b + k]] = [A[piv * b + k]!, A[c * b + k]!];
      for (let k = 0; k < m; k++) [X[c * m + k], X[piv * m + k]] = [X[piv * m + k]!, X[c * m + k]!];
    }
    const d = A[c * b + c]!;
    if (Math.abs(d) < 1e-300) continue;
    for (let r = c + 1; r < b; r++) {
      const factor = A[r * b + c]! / d;
      if (factor === 0) continue;
      for (let k = c; k < b; k++) A[r * b + k]! -= factor * A[c * b + k]!;
      for (let k = 0; k < m; k++) X[r * m + k]! -= factor * X[c * m + k]!;
    }
  }
  for (let c = b - 1; c >= 0; c--) {
    const d = A[c * b + c]!;
    for (let k = 0; k < m; k++) {
      let s = X[c * m + k]!;
      for (let j = c + 1; j < b; j++) s -= A[c * b + j]! * X[j * m + k]!;
      X[c * m + k] = Math.abs(d) < 1e-300 ? 0 : s / d;
    }
  }
  return X;
}

function initialState(problem: SinkProblem, steps: number): SinkState | null {
  const { f, m, gram, weights } = problem;
  const c = new Float64Array(f * f);
  let trace = 0;
  for (let i = 0; i < f; i++) trace += gram[i * f + i]!;
  // A small ridge keeps C invertible when channels are dead or collinear (ReLU maps, a padded border).
  const eps = (1e-9 * trace) / f + 1e-300;
  for (let i = 0; i < f; i++) {
    for (let j = i; j < f; j++) {
      const v = gram[i * f + j]!;
      c[i * f + j] = v;
      c[j * f + i] = v;
    }
    c[i * f + i]! += eps;
  }
  // total = tr(WᵀCW), B = CW, G = P B.
  const b = new Float64Array(f * m);
  for (let i = 0; i < f; i++) {
    for (let j = 0; j < f; j++) {
      const cij = gram[Math.min(i, j) * f + Math.max(i, j)]!;
      if (cij === 0) continue;
      for (let k = 0; k < m; k++) b[i * m + k]! += cij * weights[j * m + k]!;
    }
  }
  let total = 0;
  for (let i = 0; i < f * m; i++) total += weights[i]! * b[i]!;
  if (!(total > 0)) return null;
  const p = spdInverse(c, f) ?? Float64Array.from(inverse(new Matrix(Array.from({ length: f }, (_, i) => Array.from(c.subarray(i * f, i * f + f))))).to1DArray());
  const g = new Float64Array(f * m);
  for (let i = 0; i < f; i++) {
    for (let j = 0; j < f; j++) {
      const pij = p[i * f + j]!;
      if (pij === 0) continue;
      for (let k = 0; k < m; k++) g[i * m + k]! += pij * b[j * m + k]!;
    }
  }
  let blockCols = 0;
  for (const cols of problem.blocks.values()) blockCols = Math.max(blockCols, cols.length);
  // Σ over the steps of a²·(block + 1) with a shrinking from f: about f²·steps·(block + 1)/3.
  const greedy = (steps * f * f * (blockCols + 1)) / 3 <= GREEDY_BUDGET;
  return { problem, p, g, a: f, at: Int32Array.from({ length: f }, (_, i) => i), total, greedy };
}

/** tr(G_Jᵀ P_JJ⁻¹ G_J): the rise of the sink's error when the columns J leave the kept set. */
function removalCost(state: SinkState, columns: readonly number[]): number {
  const { m } = state.problem;
  const { a, p, g } = state;
  const cols = columns.map((c) => state.at[c]!);
  const b = cols.length;
  if (b === 1) {
    const j = cols[0]!;
    const pjj = p[j * a + j]!;
    if (!(pjj > 0)) return 0;
    let s = 0;
    for (let k = 0; k < m; k++) s += g[j * m + k]! ** 2;
    return s / pjj;
  }
  const pjj = new Float64Array(b * b);
  const gj = new Float64Array(b * m);
  cols.forEach((ci, r) => {
    cols.forEach((cj, t) => (pjj[r * b + t] = p[ci * a + cj]!));
    for (let k = 0; k < m; k++) gj[r * m + k] = g[ci * m + k]!;
  });
  const x = solveSmall(pjj, gj, b, m);
  let s = 0;
  for (let i = 0; i < b * m; i++) s += gj[i]! * x[i]!;
  return Math.max(0, s);
}

/**
 * Remove columns J from the kept set: P ← P − P_{:,J}P_JJ⁻¹P_{J,:}, G ← G − P_{:,J}P_JJ⁻¹G_J on the other columns,
 * written compacted (J dropped).
 */
function removeColumns(state: SinkState, columns: readonly number[]): void {
  const { m } = state.problem;
  const { a, p, g } = state;
  const cols = columns.map((c) => state.at[c]!);
  const b = cols.length;
  const pjj = new Float64Array(b * b);
  cols.forEach((ci, r) => cols.forEach((cj, t) => (pjj[r * b + t] = p[ci * a + cj]!)));
  // U = P_{:,J} P_JJ⁻¹ as the solve of P_JJ Uᵀ = P_{J,:} (P symmetric).
  const pj = new Float64Array(b * a);
  cols.forEach((ci, r) => pj.set(p.subarray(ci * a, ci * a + a), r * a));
  const ut = solveSmall(pjj, pj, b, a);
  const gj = new Float64Array(b * m);
  cols.forEach((ci, r) => gj.set(g.subarray(ci * m, ci * m + m), r * m));
  const drop = new Uint8Array(a);
  for (const c of cols) drop[c] = 1;
  const keep: number[] = [];
  for (let i = 0; i < a; i++) if (!drop[i]) keep.push(i);
  const next = keep.length;
  const np = new Float64Array(next * next);
  const ng = new Float64Array(next * m);
  for (let ii = 0; ii < next; ii++) {
    const i = keep[ii]!;
    const rowOut = ii * next;
    const rowIn = i * a;
    for (let jj = 0; jj < next; jj++) np[rowOut + jj] = p[rowIn + keep[jj]!]!;
    for (let k = 0; k < m; k++) ng[ii * m + k] = g[i * m + k]!;
    for (let r = 0; r < b; r++) {
      const u = ut[r * a + i]!;
      if (u === 0) continue;
      const pr = r * a;
      for (let jj = 0; jj < next; jj++) np[rowOut + jj]! -= u * pj[pr + keep[jj]!]!;
      for (let k = 0; k < m; k++) ng[ii * m + k]! -= u * gj[r * m + k]!;
    }
  }
  const newPosition = new Int32Array(a).fill(-1);
  keep.forEach((i, ii) => (newPosition[i] = ii));
  const at = state.at;
  for (let c = 0; c < at.length; c++) at[c] = at[c]! < 0 ? -1 : newPosition[at[c]!]!;
  state.p = np;
  state.g = ng;
  state.a = next;
}

/**
 * Importance of each of `channels` channels from the sinks that read them: the step at which greedy elimination
 * removes it (1 = first removed; `channels` = kept longest). Sinks over the work budget are scored once at the full
 * set (each channel's own removal cost), ranked the same way.
 */
export function reconstructionOrder(problems: readonly SinkProblem[], channels: number): Float64Array {
  const states = problems.map((p) => initialState(p, channels)).filter((s): s is SinkState => s !== null);
  const score = new Float64Array(channels);
  const removed = new Uint8Array(channels);
  const fixedCost = new Float64Array(channels);
  for (const s of states) {
    if (s.greedy) continue;
    for (const [c, cols] of s.problem.blocks) if (c < channels) fixedCost[c]! += removalCost(s, cols) / s.total;
  }
  for (let step = 1; step <= channels; step++) {
    let best = -1;
    let bestCost = Infinity;
    for (let c = 0; c < channels; c++) {
      if (removed[c]) continue;
      let cost = fixedCost[c]!;
      for (const s of states) {
        if (!s.greedy) continue;
        const cols = s.problem.blocks.get(c);
        if (cols) cost += removalCost(s, cols) / s.total;
      }
      if (cost < bestCost) {
        bestCost = cost;
        best = c;
      }
    }
    if (best < 0) break;
    removed[best] = 1;
    score[best] = step;
    if (step === channels) break;
    for (const s of states) {
      const cols = s.greedy ? s.problem.blocks.get(best) : undefined;
      if (cols) removeColumns(s, cols);
    }
  }
  return score;
}

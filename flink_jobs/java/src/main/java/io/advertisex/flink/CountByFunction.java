package io.advertisex.flink;

import java.util.HashMap;
import java.util.Map;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.AggregateFunction;

/**
 * adx_count_by(value): value -> how many rows had it, over the group's non-null values ({}
 * when none). What COLLECT gave as a multiset, as a plain map that mini-batch and two-phase
 * (local-global) aggregation can merge: dq_metrics.invalid_by_reason.
 */
@DataTypeHint("MAP<STRING, BIGINT>")
public final class CountByFunction extends AggregateFunction<Map<String, Long>, CountByFunction.Counts> {

  /** The accumulator: a small map (one entry per distinct value, a few reason codes). */
  public static final class Counts {
    public @DataTypeHint("MAP<STRING, BIGINT>") Map<String, Long> counts = new HashMap<>();
  }

  @Override
  public Counts createAccumulator() {
    return new Counts();
  }

  public void accumulate(Counts acc, String value) {
    if (value != null) {
      acc.counts.merge(value, 1L, Long::sum);
    }
  }

  public void merge(Counts acc, Iterable<Counts> others) {
    for (Counts other : others) {
      other.counts.forEach((value, count) -> acc.counts.merge(value, count, Long::sum));
    }
  }

  @Override
  public Map<String, Long> getValue(Counts acc) {
    return new HashMap<>(acc.counts);
  }
}

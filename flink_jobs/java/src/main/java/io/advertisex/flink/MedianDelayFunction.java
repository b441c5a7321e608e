package io.advertisex.flink;

import java.util.HashMap;
import java.util.Map;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.AggregateFunction;

/**
 * adx_median_delay(delay_ms): the median of the group's delays, each rounded to two
 * significant digits first (so within 5 %), as dq_metrics.event_time_delay_p50_ms states;
 * null when the group has none.
 *
 * <p>A histogram of the rounded values (about 90 per power of ten, a few dozen in use), not
 * every delay: its state stays small however many records a window holds, and mini-batch
 * and two-phase aggregation merge histograms. Between the two middle values of an even count
 * the median is their mean, as PERCENTILE(x, 0.5) interpolates.
 */
@DataTypeHint("DOUBLE")
public final class MedianDelayFunction extends AggregateFunction<Double, MedianDelayFunction.Histogram> {

  /** The accumulator: rounded delay -> count, and the total count. */
  public static final class Histogram {
    public @DataTypeHint("MAP<BIGINT, BIGINT>") Map<Long, Long> counts = new HashMap<>();
    public long total;
  }

  /** delayMs to two significant digits, half up (12_345 -> 12_000, 95 -> 95, 996 -> 1_000). */
  public static long twoSignificantDigits(long delayMs) {
    if (delayMs < 100 && delayMs > -100) {
      return delayMs;
    }
    long magnitude = Math.abs(delayMs);
    long unit = 1;
    while (magnitude / unit >= 100) {
      unit *= 10;
    }
    long rounded = (magnitude + unit / 2) / unit * unit;
    return delayMs < 0 ? -rounded : rounded;
  }

  @Override
  public Histogram createAccumulator() {
    return new Histogram();
  }

  public void accumulate(Histogram acc, Long delayMs) {
    if (delayMs != null) {
      acc.counts.merge(twoSignificantDigits(delayMs), 1L, Long::sum);
      acc.total += 1;
    }
  }

  public void merge(Histogram acc, Iterable<Histogram> others) {
    for (Histogram other : others) {
      other.counts.forEach((value, count) -> acc.counts.merge(value, count, Long::sum));
      acc.total += other.total;
    }
  }

  @Override
  public Double getValue(Histogram acc) {
    if (acc.total == 0) {
      return null;
    }
    long[] values = acc.counts.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
    // The values at 0-based ranks (total - 1) / 2 and total / 2: the same one when odd.
    long lowRank = (acc.total - 1) / 2;
    long highRank = acc.total / 2;
    Long low = null;
    long seen = 0;
    for (long value : values) {
      seen += acc.counts.get(value);
      if (low == null && seen > lowRank) {
        low = value;
      }
      if (seen > highRank) {
        return (low + value) / 2.0;
      }
    }
    throw new IllegalStateException("histogram total " + acc.total + " exceeds its counts");
  }
}

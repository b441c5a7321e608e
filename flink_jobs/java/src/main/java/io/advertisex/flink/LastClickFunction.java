package io.advertisex.flink;

import static org.apache.flink.table.annotation.ArgumentTrait.SET_SEMANTIC_TABLE;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import org.apache.flink.table.annotation.ArgumentHint;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.StateHint;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.types.Row;

/**
 * adx_last_click: last-click attribution whose memory is bounded by event time, one virtual
 * processor per conversion (sql/correlate.sql, PARTITION BY the conversion's event_id) over the
 * interval join's candidates that have a click. The state is the best click so far: a
 * candidate that beats it (a later click_event_time_ms, ties to the greater click_id: the order
 * of ROW_NUMBER ... ORDER BY click_event_time_ms DESC, click_id DESC) leaves as a row, any
 * other leaves nothing. The output is insert-only; attributed_conversions is an upsert sink
 * keyed by the conversion id, so its latest row, the best click, wins.
 *
 * <p>Input columns read by name, of the output's types: the output's columns below (click_id and
 * click_event_time_ms among them) and rowtime, the conversion's. The output is event_id (the
 * PARTITION BY column, which the framework puts first) and those columns; the rowtime attribute
 * is not kept, nothing after this needs it (keeping it would take a polymorphic output, as
 * FirstSeenFunction has; on_time would keep one but drop every row behind the watermark).
 *
 * <p>Forgetting: an event-time timer at the conversion's rowtime clears the state. Checked
 * against Flink 2.2's interval join (TimeIntervalJoin, RowTimeIntervalJoin,
 * StreamExecIntervalJoin): for {@code v.rowtime BETWEEN k.rowtime AND k.rowtime + W} the join
 * emits a pair when the second of its rows arrives, keeps a conversion v (rowtime tv) for later
 * clicks only if v arrived before the join's watermark passed tv, and holds its output
 * watermark back by W (KeyedCoProcessOperatorWithWatermarkDelay with getMaxOutputDelay, the
 * greater of the two sides' relative sizes, 0 and W). So a candidate of v leaves the join while
 * the join's watermark is below tv plus however long v stays cached, and reaches this function
 * (records and watermarks keep their order on a channel) while its watermark is that less W:
 * before the timer at tv fires, unless v stayed in the join's cache W past its expiry.
 *
 * <p>The exceptions are all at least W late. The join drops expired rows lazily (on a timer per
 * join key, set for the earliest row cached while none was pending, or when a later row of the
 * key scans the cache, which joins before it removes), so a click more than W behind the
 * watermark can still meet an expired v, and a conversion more than W behind it can meet
 * expired clicks (it is then not cached: its candidates all leave at once). Such a candidate is
 * behind this function's watermark, where the framework registers no timer
 * (WritableInternalTimeContext ignores a time at or behind it): its state is kept until the
 * next watermark instead, which ranks the candidates of a late conversion together. A further
 * candidate of a conversion already forgotten is ranked afresh and may replace the row with a
 * worse click, where ROW_NUMBER would still have had its entry (until table.exec.state.ttl).
 *
 * <p>State has no processing-time TTL (ttl 0, so table.exec.state.ttl does not apply): the
 * watermark clears it, so it holds the conversions of one conversion window of event time (the
 * join's watermark delay), however fast the input is read. A live run thus keeps more than the
 * 24 hours of processing time ROW_NUMBER kept (7 days at the default window: one small entry
 * per conversion), a replay of weeks no more than a live run. Streaming only: batch has no
 * PTF, and keeps ROW_NUMBER (flink_jobs/tables.py FileTables.sql_parameters).
 */
@DataTypeHint(
    "ROW<event_time_ms BIGINT, user_id STRING, campaign_id STRING, conversion_type STRING,"
        + " conversion_value DOUBLE, currency STRING, click_id STRING, click_event_time_ms BIGINT,"
        + " click_impression_id STRING, advertiser_id STRING, campaign_name STRING,"
        + " campaign_status STRING, campaign_daily_budget_micros BIGINT,"
        + " campaign_known BOOLEAN>")
public final class LastClickFunction extends ProcessTableFunction<Row> {
  private static final long serialVersionUID = 1L;
  private static final String FORGET = "forget";

  /** The best click so far; clickId null when there is none. */
  public static class Best {
    public Long clickTimeMs;
    public String clickId;
  }

  // No processing-time TTL (table.exec.state.ttl would otherwise apply): the timer clears it.
  public void eval(
      Context ctx,
      @StateHint(ttl = "0") Best best,
      @ArgumentHint(name = "input", value = SET_SEMANTIC_TABLE) Row candidate) {
    String clickId = candidate.getFieldAs("click_id");
    if (clickId == null) {
      return; // no click: nothing to attribute
    }
    Long clickTimeMs = candidate.getFieldAs("click_event_time_ms");
    if (best.clickId != null && !beats(clickTimeMs, clickId, best.clickTimeMs, best.clickId)) {
      return;
    }
    if (best.clickId == null && !forgetLater(ctx, candidate)) {
      collect(output(candidate, clickId, clickTimeMs)); // no time: passed on, not remembered
      return;
    }
    best.clickTimeMs = clickTimeMs;
    best.clickId = clickId;
    collect(output(candidate, clickId, clickTimeMs));
  }

  /**
   * Registers the timer that forgets the conversion: at its rowtime, or, behind the watermark,
   * just past it. False when there is no time to register (the join gives every row one).
   */
  private static boolean forgetLater(Context ctx, Row candidate) {
    TimeContext<Long> time = ctx.timeContext(Long.class);
    Long forgetAt = epochMillis(candidate.getField("rowtime"));
    Long watermark = time.currentWatermark();
    if (watermark != null && (forgetAt == null || forgetAt <= watermark)) {
      forgetAt = watermark + 1; // the framework registers no timer at or behind the watermark
    }
    if (forgetAt == null) {
      return false;
    }
    time.registerOnTime(FORGET, forgetAt);
    return true;
  }

  private static Row output(Row candidate, String clickId, Long clickTimeMs) {
    return Row.of(
        candidate.getFieldAs("event_time_ms"),
        candidate.getFieldAs("user_id"),
        candidate.getFieldAs("campaign_id"),
        candidate.getFieldAs("conversion_type"),
        candidate.getFieldAs("conversion_value"),
        candidate.getFieldAs("currency"),
        clickId,
        clickTimeMs,
        candidate.getFieldAs("click_impression_id"),
        candidate.getFieldAs("advertiser_id"),
        candidate.getFieldAs("campaign_name"),
        candidate.getFieldAs("campaign_status"),
        candidate.getFieldAs("campaign_daily_budget_micros"),
        candidate.getFieldAs("campaign_known"));
  }

  public void onTimer(OnTimerContext ctx, Best best) {
    ctx.clearAll();
  }

  /**
   * Whether a click comes before another in ORDER BY click_event_time_ms DESC, click_id DESC:
   * a null time is lowest (Flink sorts nulls last when descending), and ids compare by code
   * point, which is the order of their UTF-8 bytes, as Flink compares strings.
   */
  static boolean beats(Long time, String id, Long bestTime, String bestId) {
    if (time == null || bestTime == null) {
      if (time != null) {
        return true;
      }
      if (bestTime != null) {
        return false;
      }
    } else if (!time.equals(bestTime)) {
      return time > bestTime;
    }
    return compareCodePoints(id, bestId) > 0;
  }

  private static int compareCodePoints(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int x = a.codePointAt(i);
      int y = b.codePointAt(j);
      if (x != y) {
        return Integer.compare(x, y);
      }
      i += Character.charCount(x);
      j += Character.charCount(y);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  private static Long epochMillis(Object value) {
    if (value instanceof Instant) {
      return ((Instant) value).toEpochMilli();
    }
    if (value instanceof LocalDateTime) {
      return ((LocalDateTime) value).toInstant(ZoneOffset.UTC).toEpochMilli();
    }
    return null;
  }
}

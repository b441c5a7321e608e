package io.advertisex.flink;

import static org.apache.flink.table.annotation.ArgumentTrait.SET_SEMANTIC_TABLE;

import org.apache.flink.table.annotation.ArgumentHint;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.StateHint;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.types.Row;

/**
 * adx_campaign_minute: campaign_metrics_1m's running totals, one virtual processor per
 * campaign and event-time minute (sql/metrics.sql). Each signal row adds its counts and the
 * row leaves with the minute's totals so far (insert-only: the upsert sink keeps the latest
 * per key). The totals are forgotten when the watermark passes the minute's end: an
 * event-time timer, so state is bounded by event time (a replay of weeks of history keeps
 * no more than a live run) and no processing-time TTL can restart a minute that is still
 * being updated.
 *
 * <p>A minute closes when the watermark passes its end plus a grace (sql/metrics.sql: a
 * day). While the joins' inputs are active their output watermarks trail by the join window,
 * so every signal of a minute comes before the watermark here passes the minute's end. But
 * a join whose inputs are idle (a quiet clicks_conversions topic) is left out of this
 * operator's watermark, which then runs ahead of the unmatched conversions the join still
 * holds: they leave it when its source brings time again. The grace is how long they may
 * wait (tests/flink_jobs/test_long_run.py found the loss). The state is the conversion
 * window's campaign-minutes and the grace's.
 *
 * <p>A plain GROUP BY with a processing-time TTL could not do both: its state grows with
 * every campaign-minute ever seen until the TTL, and the TTL, counted in processing time,
 * can fire before an unmatched conversion (which leaves its join when the join's watermark
 * passes its time, on a lagging or stopped job long after it arrived) updates the row. Batch, where the planner has no PTF, keeps the
 * GROUP BY (flink_jobs/tables.py FileTables.sql_parameters).
 */
@DataTypeHint(
    "ROW<impressions BIGINT, clicks BIGINT, attributed_clicks BIGINT, unattributed_clicks BIGINT,"
        + " conversions BIGINT, unattributed_conversions BIGINT, conversion_value DOUBLE,"
        + " spend_micros BIGINT, bids BIGINT, wins BIGINT, advertiser_id STRING,"
        + " campaign_name STRING, campaign_status STRING, campaign_daily_budget_micros BIGINT,"
        + " campaign_known BOOLEAN>")
public final class CampaignMinuteFunction extends ProcessTableFunction<Row> {
  private static final long serialVersionUID = 1L;
  public static final long MINUTE_MS = 60_000;
  private static final String CLOSE = "close";

  /** A minute's totals. The campaign's attributes are the greatest seen (MAX, order-free). */
  public static class Totals {
    public long impressions;
    public long clicks;
    public long attributedClicks;
    public long unattributedClicks;
    public long conversions;
    public long unattributedConversions;
    public double conversionValue;
    public long spendMicros;
    public long bids;
    public long wins;
    public String advertiserId;
    public String campaignName;
    public String campaignStatus;
    public Long campaignDailyBudgetMicros;
    public Boolean campaignKnown;
    public boolean open;
  }

  // No processing-time TTL (table.exec.state.ttl would otherwise apply): the timer clears it.
  public void eval(
      Context ctx,
      @StateHint(ttl = "0") Totals totals,
      @ArgumentHint(name = "input", value = SET_SEMANTIC_TABLE) Row signal,
      // Milliseconds: an INTERVAL argument fails the annotation-based type inference of 2.2.
      @ArgumentHint(name = "grace_ms") Long graceMs) {
    long closeAt = (Long) signal.getFieldAs("window_start_ms") + MINUTE_MS + graceMs;
    TimeContext<Long> time = ctx.timeContext(Long.class);
    Long watermark = time.currentWatermark();
    if (watermark != null && closeAt <= watermark) {
      return; // the minute has closed (and may be forgotten): it does not change any more
    }
    if (!totals.open) {
      totals.open = true;
      time.registerOnTime(CLOSE, closeAt);
    }
    totals.impressions += count(signal, "impressions");
    totals.clicks += count(signal, "clicks");
    totals.attributedClicks += count(signal, "attributed_clicks");
    totals.unattributedClicks += count(signal, "unattributed_clicks");
    totals.conversions += count(signal, "conversions");
    totals.unattributedConversions += count(signal, "unattributed_conversions");
    Double value = signal.getFieldAs("conversion_value");
    totals.conversionValue += value == null ? 0 : value;
    totals.spendMicros += count(signal, "spend_micros");
    totals.bids += count(signal, "bids");
    totals.wins += count(signal, "wins");
    totals.advertiserId = max(totals.advertiserId, signal.getFieldAs("advertiser_id"));
    totals.campaignName = max(totals.campaignName, signal.getFieldAs("campaign_name"));
    totals.campaignStatus = max(totals.campaignStatus, signal.getFieldAs("campaign_status"));
    totals.campaignDailyBudgetMicros =
        max(totals.campaignDailyBudgetMicros, signal.getFieldAs("campaign_daily_budget_micros"));
    totals.campaignKnown = max(totals.campaignKnown, signal.getFieldAs("campaign_known"));
    collect(
        Row.of(
            totals.impressions,
            totals.clicks,
            totals.attributedClicks,
            totals.unattributedClicks,
            totals.conversions,
            totals.unattributedConversions,
            totals.conversionValue,
            totals.spendMicros,
            totals.bids,
            totals.wins,
            totals.advertiserId,
            totals.campaignName,
            totals.campaignStatus,
            totals.campaignDailyBudgetMicros,
            totals.campaignKnown));
  }

  public void onTimer(OnTimerContext ctx, Totals totals) {
    ctx.clearAll();
  }

  private static long count(Row signal, String field) {
    Number value = signal.getFieldAs(field);
    return value == null ? 0 : value.longValue();
  }

  private static <T extends Comparable<T>> T max(T current, T candidate) {
    if (current == null) {
      return candidate;
    }
    return candidate == null || candidate.compareTo(current) <= 0 ? current : candidate;
  }
}

package io.advertisex.contract;

import java.util.Map;

/**
 * One message of a source, decoded and standardized: a port of
 * advertisex/contract/event_time.py ({@code check} and {@code event_time_ms}).
 *
 * <p>Sources: {@code impressions} (JSON), {@code clicks_conversions} (CSV) and
 * {@code bid_requests} (Avro). An unknown source is an IllegalArgumentException (Python's
 * KeyError).
 */
public final class Sources {
  private Sources() {}

  public static final String IMPRESSIONS = "impressions";
  public static final String CLICKS_CONVERSIONS = "clicks_conversions";
  public static final String BID_REQUESTS = "bid_requests";

  /** The rowtime a message without a readable event time gets (event_time.py UNREADABLE). */
  public static final long UNREADABLE = 0;

  /** The raw record of a message; ContractException(malformed_json|csv|avro) otherwise. */
  public static Map<String, Object> decode(String source, byte[] payload) {
    switch (source) {
      case IMPRESSIONS:
        return Impressions.decode(payload);
      case CLICKS_CONVERSIONS:
        return ClicksCsv.decode(payload);
      case BID_REQUESTS:
        return BidRequestsAvro.decode(payload);
      default:
        throw unknown(source);
    }
  }

  /** The standardized record of a decoded raw record; ContractException for a broken rule. */
  public static Map<String, Object> standardize(String source, Map<String, Object> raw) {
    switch (source) {
      case IMPRESSIONS:
        return Rules.standardizeImpression(raw);
      case CLICKS_CONVERSIONS:
        return Rules.standardizeClickOrConversion(raw);
      case BID_REQUESTS:
        return Rules.standardizeBidRequest(raw);
      default:
        throw unknown(source);
    }
  }

  /**
   * The standardized record of one message of a source; ContractException with the reason of
   * the first broken rule (decode, then the rules).
   */
  public static Map<String, Object> check(String source, byte[] payload) {
    return standardize(source, decode(source, payload));
  }

  /** The epoch millis of a message's {@code event_time}, or -1 when it cannot be read. */
  public static long eventTimeMs(String source, byte[] payload) {
    Map<String, Object> raw;
    try {
      raw = decode(source, payload);
    } catch (ContractException e) {
      return -1;
    }
    return eventTimeMs(raw);
  }

  /** The epoch millis of a decoded record's {@code event_time}, or -1 when unreadable. */
  public static long eventTimeMs(Map<String, Object> raw) {
    try {
      return Timestamps.toEpochMs(raw.get("event_time"));
    } catch (ContractException e) {
      return -1;
    }
  }

  private static IllegalArgumentException unknown(String source) {
    return new IllegalArgumentException(
        "unknown source " + source + " (impressions, clicks_conversions, bid_requests)");
  }
}

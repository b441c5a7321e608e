package io.advertisex.contract;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The contract's validation and standardization rules (sections 2.1 and 2.2), a port of
 * advertisex/contract/rules.py, which stays the reference: each standardize method returns the
 * record the Python function returns (the same keys in the same order; null where Python has
 * None; Long for int, Double for float, List&lt;String&gt; for lists) or throws
 * ContractException with the reason of the FIRST failing rule, checked in the Python order.
 *
 * <p>Required fields and enumerations come from the packaged schema files (schemas/...), read
 * once, the way rules.py reads them.
 */
public final class Rules {
  private Rules() {}

  public static final String DEFAULT_CURRENCY = "USD";

  // --- what the schema files say --------------------------------------------------------

  /** A required field: kind "text" must be a non-blank string, "timestamp" only present. */
  private static final class Required {
    final String parent; // the holder's key in the raw record (bid requests), or null
    final String name;
    final boolean text;
    final ContractException missing;
    final ContractException badType;

    Required(String path, boolean text) {
      int dot = path.lastIndexOf('.');
      this.parent = dot >= 0 ? path.substring(0, dot) : null;
      this.name = path.substring(dot + 1);
      this.text = text;
      this.missing = new ContractException("missing_field:" + path);
      this.badType = new ContractException("bad_type:" + path);
    }
  }

  private static final Map<String, Object> IMPRESSION_SCHEMA =
      Json.readResource("schemas/impression.schema.json");
  private static final Map<String, Object> CSV_SPEC =
      Json.readResource("schemas/clicks_conversions.csv.json");
  private static final Map<String, Object> BID_REQUEST_AVSC =
      Json.readResource("schemas/bid_request.avsc");

  private static final Set<String> DEVICE_TYPES = enumSet("device_type");
  private static final Set<String> EVENT_TYPES = enumSet("event_type");
  private static final Set<String> CONVERSION_TYPES = enumSet("conversion_type");
  private static final Set<String> AUCTION_TYPES = enumSet("auction_type");

  private static final Required[] IMPRESSION_REQUIRED = impressionRequired();
  private static final Required[] CSV_ALWAYS = csvRequired(Set.of("yes"));
  private static final Map<String, Required[]> CSV_CONDITIONAL = csvConditional();
  private static final Required[] BID_REQUEST_REQUIRED = bidRequestRequired();

  /** The allowed values of an enumeration, read from the one file that defines it. */
  @SuppressWarnings("unchecked")
  public static List<String> enumValues(String name) {
    Map<String, Object> enums = (Map<String, Object>) CSV_SPEC.get("enums");
    List<Object> values;
    if (enums.containsKey(name)) {
      values = (List<Object>) enums.get(name);
    } else if (name.equals("device_type")) {
      Map<String, Object> properties = (Map<String, Object>) IMPRESSION_SCHEMA.get("properties");
      values =
          (List<Object>) ((Map<String, Object>) properties.get("device_type")).get("x-known-values");
    } else if (name.equals("auction_type")) {
      values = null;
      for (Object field : (List<Object>) BID_REQUEST_AVSC.get("fields")) {
        Map<String, Object> f = (Map<String, Object>) field;
        if ("auction_type".equals(f.get("name"))) {
          values = (List<Object>) ((Map<String, Object>) f.get("type")).get("symbols");
          break;
        }
      }
    } else {
      // campaign_status lives in the campaign schema, which the rules do not use
      throw new IllegalArgumentException("no enumeration named " + name);
    }
    List<String> out = new ArrayList<>(values.size());
    for (Object v : values) {
      out.add((String) v);
    }
    return out;
  }

  private static Set<String> enumSet(String name) {
    return Collections.unmodifiableSet(new HashSet<>(enumValues(name)));
  }

  @SuppressWarnings("unchecked")
  private static Required[] impressionRequired() {
    Map<String, Object> properties = (Map<String, Object>) IMPRESSION_SCHEMA.get("properties");
    List<Object> required = (List<Object>) IMPRESSION_SCHEMA.get("required");
    Required[] out = new Required[required.size()];
    for (int i = 0; i < out.length; i++) {
      String name = (String) required.get(i);
      boolean timestamp = ((Map<String, Object>) properties.get(name)).containsKey("$ref");
      out[i] = new Required(name, !timestamp);
    }
    return out;
  }

  // Columns whose "required" is one of the given wordings, in column order.
  @SuppressWarnings("unchecked")
  private static Required[] csvRequired(Set<String> wordings) {
    List<Required> out = new ArrayList<>();
    for (Object column : (List<Object>) CSV_SPEC.get("columns")) {
      Map<String, Object> c = (Map<String, Object>) column;
      if (wordings.contains(c.get("required"))) {
        out.add(new Required((String) c.get("name"), !"timestamp".equals(c.get("type"))));
      }
    }
    return out.toArray(new Required[0]);
  }

  private static Map<String, Required[]> csvConditional() {
    // The CSV spec's wording for conditionally required columns -> the event_type needing them.
    Map<String, String> requiredFor = Map.of("clicks only", "click", "conversions only", "conversion");
    Map<String, Required[]> out = new HashMap<>();
    for (String eventType : enumValues("event_type")) {
      Set<String> wordings = new HashSet<>();
      for (Map.Entry<String, String> e : requiredFor.entrySet()) {
        if (e.getValue().equals(eventType)) {
          wordings.add(e.getKey());
        }
      }
      out.put(eventType, csvRequired(wordings));
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static Required[] bidRequestRequired() {
    List<Required> out = new ArrayList<>();
    walkAvro((List<Object>) BID_REQUEST_AVSC.get("fields"), "", out);
    return out.toArray(new Required[0]);
  }

  // Paths of the Avro schema's plain strings and timestamps, nested records included.
  @SuppressWarnings("unchecked")
  private static void walkAvro(List<Object> fields, String prefix, List<Required> out) {
    for (Object field : fields) {
      Map<String, Object> f = (Map<String, Object>) field;
      Object kind = f.get("type");
      if ("string".equals(kind)) {
        out.add(new Required(prefix + f.get("name"), true));
      } else if (kind instanceof Map) {
        Map<String, Object> k = (Map<String, Object>) kind;
        if ("timestamp-millis".equals(k.get("logicalType"))) {
          out.add(new Required(prefix + f.get("name"), false));
        } else if ("record".equals(k.get("type"))) {
          walkAvro((List<Object>) k.get("fields"), prefix + f.get("name") + ".", out);
        }
      }
    }
  }

  // --- reasons -----------------------------------------------------------------------------

  private static final ContractException BAD_HOST_WEBSITE = new ContractException("bad_host:website");
  private static final ContractException BAD_HOST_SITE_DOMAIN =
      new ContractException("bad_host:site.domain");
  private static final ContractException BAD_ENUM_EVENT_TYPE =
      new ContractException("bad_enum:event_type");
  private static final ContractException BAD_ENUM_CONVERSION_TYPE =
      new ContractException("bad_enum:conversion_type");
  private static final ContractException BAD_ENUM_AUCTION_TYPE =
      new ContractException("bad_enum:auction_type");
  private static final ContractException BAD_COUNTRY = new ContractException("bad_country");
  private static final ContractException BAD_CURRENCY = new ContractException("bad_currency");
  private static final ContractException MISSING_CURRENCY =
      new ContractException("missing_field:currency");
  private static final ContractException BAD_TYPE_OUTCOME = new ContractException("bad_type:outcome");
  private static final ContractException BAD_TYPE_OUTCOME_WON =
      new ContractException("bad_type:outcome.won");

  /** The reasons of one field: bad_type, bad_number, negative_value, missing_field. */
  private static final class Field {
    final String name; // the key in its holder
    final ContractException badType;
    final ContractException badNumber;
    final ContractException negative;
    final ContractException missing;

    Field(String path) {
      this.name = path.substring(path.lastIndexOf('.') + 1);
      this.badType = new ContractException("bad_type:" + path);
      this.badNumber = new ContractException("bad_number:" + path);
      this.negative = new ContractException("negative_value:" + path);
      this.missing = new ContractException("missing_field:" + path);
    }
  }

  private static final Field DEVICE_TYPE = new Field("device_type");
  private static final Field BID_REQUEST_ID = new Field("bid_request_id");
  private static final Field USER_AGENT = new Field("user_agent");
  private static final Field COST_MICROS = new Field("cost_micros");
  private static final Field IMPRESSION_ID = new Field("impression_id");
  private static final Field CONVERSION_VALUE = new Field("conversion_value");
  private static final Field DEVICE_DEVICE_TYPE = new Field("device.device_type");
  private static final Field USER_USER_ID = new Field("user.user_id");
  private static final Field USER_AGE_RANGE = new Field("user.age_range");
  private static final Field USER_GENDER = new Field("user.gender");
  private static final Field DEVICE_OS = new Field("device.os");
  private static final Field DEVICE_USER_AGENT = new Field("device.user_agent");
  private static final Field DEVICE_IP = new Field("device.ip");
  private static final Field SITE_PAGE_URL = new Field("site.page_url");
  private static final Field USER_SEGMENTS = new Field("user.segments");
  private static final Field SITE_CATEGORIES = new Field("site.categories");
  private static final Field TARGETING_CAMPAIGN_IDS = new Field("targeting.campaign_ids");
  private static final Field TARGETING_KEYWORDS = new Field("targeting.keywords");
  private static final Field BID_FLOOR_MICROS = new Field("bid_floor_micros");
  private static final Field OUTCOME_BID_PRICE = new Field("outcome.bid_price_micros");
  private static final Field OUTCOME_CLEARING_PRICE = new Field("outcome.clearing_price_micros");
  private static final Field OUTCOME_CAMPAIGN_ID = new Field("outcome.campaign_id");
  private static final Field OUTCOME_CREATIVE_ID = new Field("outcome.creative_id");

  // --- hosts -------------------------------------------------------------------------------

  /**
   * The lower-case host of a host name or URL: {@code https://WWW.News.Example.com:443/a?b}
   * -> {@code news.example.com}; '' when there is none (rules.py normalize_host).
   */
  public static String normalizeHost(String website) {
    String text = PyText.lower(PyText.strip(website));
    int schemeEnd = text.indexOf("://");
    if (schemeEnd >= 0) {
      text = text.substring(schemeEnd + 3);
    } else if (text.startsWith("//")) {
      text = text.substring(2);
    }
    int n = text.length();
    for (int i = 0; i < n; i++) {
      char c = text.charAt(i);
      if (c == '/' || c == '?' || c == '#') {
        text = text.substring(0, i);
        break;
      }
    }
    int at = text.lastIndexOf('@');
    if (at >= 0) {
      text = text.substring(at + 1);
    }
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close >= 0) {
        text = text.substring(0, close + 1);
      }
    } else {
      int colon = text.indexOf(':');
      if (colon >= 0) {
        text = text.substring(0, colon);
      }
    }
    int end = text.length();
    while (end > 0 && text.charAt(end - 1) == '.') {
      end--;
    }
    if (end < text.length()) {
      text = text.substring(0, end);
    }
    if (text.startsWith("www.") && text.indexOf('.', 4) >= 0) {
      text = text.substring(4);
    }
    return text;
  }

  // --- the three sources -------------------------------------------------------------------

  /** An {@code impressions} output record from one decoded impression (contract 1.1). */
  public static LinkedHashMap<String, Object> standardizeImpression(Map<String, Object> raw) {
    for (Required r : IMPRESSION_REQUIRED) {
      required(raw, r);
    }
    long eventTimeMs = Timestamps.toEpochMs(raw.get("event_time"));
    String website = host((String) raw.get("website"), BAD_HOST_WEBSITE);
    String deviceType = deviceType(raw.get("device_type"), DEVICE_TYPE);
    String bidRequestId = optionalText(raw, BID_REQUEST_ID);
    String userAgent = optionalText(raw, USER_AGENT);
    Long costMicros = nonNegative(integer(raw.get("cost_micros"), COST_MICROS, false), COST_MICROS);
    String country = country(raw.get("country"));
    String currency = currency(raw.get("currency"), DEFAULT_CURRENCY);
    LinkedHashMap<String, Object> out = new LinkedHashMap<>(16);
    out.put("impression_id", PyText.strip((String) raw.get("impression_id")));
    out.put("event_time_ms", eventTimeMs);
    out.put("user_id", PyText.strip((String) raw.get("user_id")));
    out.put("creative_id", PyText.strip((String) raw.get("creative_id")));
    out.put("campaign_id", PyText.strip((String) raw.get("campaign_id")));
    out.put("website", website);
    out.put("bid_request_id", trimmed(bidRequestId));
    out.put("cost_micros", costMicros);
    out.put("currency", currency);
    out.put("device_type", deviceType);
    out.put("country", country);
    out.put("user_agent", userAgent);
    return out;
  }

  /**
   * A {@code clicks} or a {@code conversions} output record (per its event_type) from one CSV
   * record. Columns that do not apply to the event type are neither checked nor output.
   */
  public static LinkedHashMap<String, Object> standardizeClickOrConversion(Map<String, Object> raw) {
    for (Required r : CSV_ALWAYS) {
      required(raw, r);
    }
    long eventTimeMs = Timestamps.toEpochMs(raw.get("event_time"));
    String eventType = enumValue(raw.get("event_type"), EVENT_TYPES, BAD_ENUM_EVENT_TYPE);
    for (Required r : CSV_CONDITIONAL.get(eventType)) {
      required(raw, r);
    }
    LinkedHashMap<String, Object> record = new LinkedHashMap<>(16);
    record.put("event_id", PyText.strip((String) raw.get("event_id")));
    record.put("event_time_ms", eventTimeMs);
    record.put("event_type", eventType);
    record.put("user_id", PyText.strip((String) raw.get("user_id")));
    record.put("campaign_id", PyText.strip((String) raw.get("campaign_id")));
    if (eventType.equals("click")) {
      record.put("impression_id", PyText.strip((String) raw.get("impression_id")));
      return record;
    }
    String conversionType =
        enumValue(raw.get("conversion_type"), CONVERSION_TYPES, BAD_ENUM_CONVERSION_TYPE);
    String impressionId = trimmed(optionalText(raw, IMPRESSION_ID));
    Double value =
        nonNegative(decimal(raw.get("conversion_value"), CONVERSION_VALUE), CONVERSION_VALUE);
    String currency = currency(raw.get("currency"), DEFAULT_CURRENCY);
    record.put("impression_id", impressionId);
    record.put("conversion_type", conversionType);
    record.put("conversion_value", value);
    record.put("currency", currency);
    return record;
  }

  /**
   * A {@code bid_requests} output record (flattened) from one decoded bid request (contract
   * 1.3), in the shape of BidRequestsAvro.decode: nested records as Map, unions as the value
   * or null, the enum as its symbol, arrays as List, longs as Long.
   */
  public static LinkedHashMap<String, Object> standardizeBidRequest(Map<String, Object> raw) {
    Map<String, Object> user = orEmpty(raw.get("user"));
    Map<String, Object> device = orEmpty(raw.get("device"));
    Map<String, Object> site = orEmpty(raw.get("site"));
    Map<String, Object> targeting = orEmpty(raw.get("targeting"));
    Object outcome = raw.get("outcome");
    for (Required r : BID_REQUEST_REQUIRED) {
      required(r.parent == null ? raw : orEmpty(raw.get(r.parent)), r);
    }
    long eventTimeMs = Timestamps.toEpochMs(raw.get("event_time"));
    String siteDomain = host((String) site.get("domain"), BAD_HOST_SITE_DOMAIN);
    String auctionType = enumValue(raw.get("auction_type"), AUCTION_TYPES, BAD_ENUM_AUCTION_TYPE);
    String deviceType = deviceType(device.get("device_type"), DEVICE_DEVICE_TYPE);
    String userId = optionalText(user, USER_USER_ID);
    String ageRange = optionalText(user, USER_AGE_RANGE);
    String gender = optionalText(user, USER_GENDER);
    String os = optionalText(device, DEVICE_OS);
    String userAgent = optionalText(device, DEVICE_USER_AGENT);
    String ip = optionalText(device, DEVICE_IP);
    String pageUrl = optionalText(site, SITE_PAGE_URL);
    List<String> segments = textList(user, USER_SEGMENTS);
    List<String> categories = textList(site, SITE_CATEGORIES);
    List<String> campaignIds = textList(targeting, TARGETING_CAMPAIGN_IDS);
    List<String> keywords = textList(targeting, TARGETING_KEYWORDS);
    Long floor =
        nonNegative(integer(raw.get("bid_floor_micros"), BID_FLOOR_MICROS, true), BID_FLOOR_MICROS);
    LinkedHashMap<String, Object> out = new LinkedHashMap<>(64);
    // the outcome is checked here, before country and currency; its fields go last
    Object[] answer = outcome(outcome);
    String country = country(device.get("country"));
    String currency = currency(raw.get("currency"), null);
    List<String> targeted = new ArrayList<>(campaignIds.size());
    for (String c : campaignIds) {
      String s = PyText.strip(c);
      if (!s.isEmpty()) {
        targeted.add(s);
      }
    }
    out.put("request_id", PyText.strip((String) raw.get("request_id")));
    out.put("event_time_ms", eventTimeMs);
    out.put("exchange", PyText.strip((String) raw.get("exchange")));
    out.put("auction_type", auctionType);
    out.put("bid_floor_micros", floor);
    out.put("currency", currency);
    out.put("user_id", trimmed(userId));
    out.put("user_segments", segments);
    out.put("age_range", ageRange);
    out.put("gender", gender);
    out.put("device_type", deviceType);
    out.put("os", os);
    out.put("user_agent", userAgent);
    out.put("ip", ip);
    out.put("country", country);
    out.put("site_domain", siteDomain);
    out.put("page_url", pageUrl);
    out.put("site_categories", categories);
    out.put("targeted_campaign_ids", targeted);
    out.put("keywords", keywords);
    for (int i = 0; i < OUTCOME_KEYS.length; i++) {
      out.put(OUTCOME_KEYS[i], answer[i]);
    }
    return out;
  }

  private static final String[] OUTCOME_KEYS = {
    "bid", "won", "bid_price_micros", "clearing_price_micros", "campaign_id", "creative_id"
  };

  // The values of OUTCOME_KEYS.
  @SuppressWarnings("unchecked")
  private static Object[] outcome(Object outcome) {
    if (outcome == null) {
      return new Object[] {Boolean.FALSE, Boolean.FALSE, null, null, null, null};
    }
    if (!(outcome instanceof Map)) {
      throw BAD_TYPE_OUTCOME;
    }
    Map<String, Object> o = (Map<String, Object>) outcome;
    Object won = o.get("won");
    if (!(won instanceof Boolean)) {
      throw BAD_TYPE_OUTCOME_WON;
    }
    Long bidPrice =
        nonNegative(integer(o.get("bid_price_micros"), OUTCOME_BID_PRICE, false), OUTCOME_BID_PRICE);
    Long clearingPrice =
        nonNegative(
            integer(o.get("clearing_price_micros"), OUTCOME_CLEARING_PRICE, false),
            OUTCOME_CLEARING_PRICE);
    String campaignId = trimmed(optionalText(o, OUTCOME_CAMPAIGN_ID));
    String creativeId = trimmed(optionalText(o, OUTCOME_CREATIVE_ID));
    return new Object[] {Boolean.TRUE, won, bidPrice, clearingPrice, campaignId, creativeId};
  }

  // --- one rule each -----------------------------------------------------------------------

  private static final Map<String, Object> EMPTY = Collections.emptyMap();

  /**
   * Python's {@code value or {}} for a nested record. A value that is neither a dict nor
   * falsy has no {@code .get} in Python (AttributeError, which BidRequestsAvro's records never
   * cause); here it is an IllegalArgumentException.
   */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> orEmpty(Object value) {
    if (value instanceof Map) {
      return (Map<String, Object>) value;
    }
    if (value == null || !pyTruthy(value)) {
      return EMPTY;
    }
    throw new IllegalArgumentException(
        "a nested record must be a Map, got " + value.getClass().getName());
  }

  private static boolean pyTruthy(Object v) {
    if (v instanceof Boolean) {
      return (Boolean) v;
    }
    if (v instanceof String) {
      return !((String) v).isEmpty();
    }
    if (v instanceof List) {
      return !((List<?>) v).isEmpty();
    }
    if (v instanceof Double) {
      return (Double) v != 0.0; // NaN is truthy, as in Python
    }
    if (v instanceof BigInteger) {
      return ((BigInteger) v).signum() != 0;
    }
    if (v instanceof Number) {
      return ((Number) v).longValue() != 0;
    }
    return true;
  }

  private static boolean absent(Object value) {
    return value == null || (value instanceof String && PyText.isBlank((String) value));
  }

  private static void required(Map<String, Object> holder, Required r) {
    Object value = holder.get(r.name);
    if (absent(value)) {
      throw r.missing;
    }
    if (r.text && !(value instanceof String)) {
      throw r.badType;
    }
  }

  private static String optionalText(Map<String, Object> holder, Field f) {
    Object value = holder.get(f.name);
    if (absent(value)) {
      return null;
    }
    if (!(value instanceof String)) {
      throw f.badType;
    }
    return (String) value;
  }

  private static String trimmed(String value) {
    return value == null ? null : PyText.strip(value);
  }

  private static String host(String value, ContractException bad) {
    String host = normalizeHost(value);
    if (host.isEmpty() || PyText.containsSpace(host)) {
      throw bad;
    }
    return host;
  }

  private static String enumValue(Object value, Set<String> allowed, ContractException bad) {
    if (value instanceof String) {
      String text = PyText.strip((String) value);
      if (allowed.contains(text)) {
        return text;
      }
    }
    // a non-string is never one of the (string) values
    throw bad;
  }

  // Unknown device types are data, not errors: they become 'other' (contract 2.2).
  private static String deviceType(Object value, Field f) {
    if (absent(value)) {
      return null;
    }
    if (!(value instanceof String)) {
      throw f.badType;
    }
    String lowered = PyText.lower(PyText.strip((String) value));
    return DEVICE_TYPES.contains(lowered) ? lowered : "other";
  }

  private static List<String> textList(Map<String, Object> holder, Field f) {
    Object value = holder.get(f.name);
    if (value == null) {
      return new ArrayList<>(0);
    }
    if (!(value instanceof List)) {
      throw f.badType;
    }
    List<?> list = (List<?>) value;
    List<String> out = new ArrayList<>(list.size());
    for (Object item : list) {
      if (!(item instanceof String)) {
        throw f.badType;
      }
      out.add((String) item);
    }
    return out;
  }

  private static final double TWO_63 = 9.223372036854775808E18;

  /** An integer from an int, a whole float or a string of digits; null when absent. */
  private static Long integer(Object value, Field f, boolean required) {
    if (absent(value)) {
      if (required) {
        throw f.missing;
      }
      return null;
    }
    if (value instanceof Long) {
      return (Long) value;
    }
    if (value instanceof Boolean) {
      throw f.badNumber;
    }
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    if (value instanceof BigInteger) {
      BigInteger big = (BigInteger) value;
      if (big.bitLength() <= 63) {
        return big.longValue();
      }
      throw f.badNumber; // outside the 64-bit range
    }
    if (value instanceof Double) {
      double d = (Double) value;
      // finite, whole and within [-2**63, 2**63 - 1]
      if (d >= -TWO_63 && d < TWO_63 && d == Math.floor(d)) {
        return (long) d;
      }
      throw f.badNumber;
    }
    if (value instanceof String) {
      return integerText(PyText.strip((String) value), f);
    }
    throw f.badNumber;
  }

  // [+-]?\d+ (ASCII digits) within the 64-bit range.
  private static long integerText(String s, Field f) {
    int n = s.length();
    int i = 0;
    boolean negative = false;
    if (n > 0 && (s.charAt(0) == '+' || s.charAt(0) == '-')) {
      negative = s.charAt(0) == '-';
      i = 1;
    }
    if (i == n) {
      throw f.badNumber;
    }
    // accumulate negatively: -2**63 fits, 2**63 does not
    long v = 0;
    boolean overflow = false;
    for (; i < n; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        throw f.badNumber;
      }
      int d = c - '0';
      if (v < (Long.MIN_VALUE + d) / 10) {
        overflow = true; // keep checking that the rest are digits
      } else {
        v = v * 10 - d;
      }
    }
    if (overflow || (!negative && v == Long.MIN_VALUE)) {
      throw f.badNumber;
    }
    return negative ? v : -v;
  }

  /** A decimal from a string like '12.50' (no exponent), an int or a finite float. */
  private static Double decimal(Object value, Field f) {
    if (absent(value)) {
      return null;
    }
    if (value instanceof Boolean) {
      throw f.badNumber;
    }
    if (value instanceof Long || value instanceof Integer || value instanceof Short
        || value instanceof Byte) {
      return (double) ((Number) value).longValue();
    }
    if (value instanceof BigInteger) {
      double d = ((BigInteger) value).doubleValue();
      if (Double.isInfinite(d)) {
        // Python's float(int) raises OverflowError here (not a ContractError)
        throw new ArithmeticException("int too large to convert to float");
      }
      return d;
    }
    if (value instanceof Double) {
      double d = (Double) value;
      if (Double.isFinite(d)) {
        return d;
      }
      throw f.badNumber;
    }
    if (value instanceof String) {
      String s = PyText.strip((String) value);
      if (!isDecimalText(s)) {
        throw f.badNumber;
      }
      double d = Double.parseDouble(s) + 0.0; // + 0.0 turns -0.0 into 0.0
      if (Double.isFinite(d)) {
        return d;
      }
      throw f.badNumber; // too large
    }
    throw f.badNumber;
  }

  // [+-]?(\d+(\.\d*)?|\.\d+) with ASCII digits
  private static boolean isDecimalText(String s) {
    int n = s.length();
    int i = 0;
    if (n > 0 && (s.charAt(0) == '+' || s.charAt(0) == '-')) {
      i = 1;
    }
    int intDigits = 0;
    while (i < n && isDigit(s.charAt(i))) {
      i++;
      intDigits++;
    }
    int fracDigits = 0;
    if (i < n && s.charAt(i) == '.') {
      i++;
      while (i < n && isDigit(s.charAt(i))) {
        i++;
        fracDigits++;
      }
    }
    return i == n && (intDigits > 0 || fracDigits > 0);
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static Long nonNegative(Long value, Field f) {
    if (value != null && value < 0) {
      throw f.negative;
    }
    return value;
  }

  private static Double nonNegative(Double value, Field f) {
    if (value != null && value < 0) {
      throw f.negative;
    }
    return value;
  }

  private static String country(Object value) {
    if (absent(value)) {
      return null;
    }
    if (value instanceof String) {
      String s = PyText.strip((String) value);
      if (asciiLetters(s, 2)) {
        return upperAscii(s);
      }
    }
    throw BAD_COUNTRY;
  }

  private static String currency(Object value, String fallback) {
    if (absent(value)) {
      if (fallback == null) {
        throw MISSING_CURRENCY;
      }
      return fallback;
    }
    if (value instanceof String) {
      String s = PyText.strip((String) value);
      if (asciiLetters(s, 3)) {
        return upperAscii(s);
      }
    }
    throw BAD_CURRENCY;
  }

  private static boolean asciiLetters(String s, int length) {
    if (s.length() != length) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      char c = s.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
        return false;
      }
    }
    return true;
  }

  private static String upperAscii(String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      char c = s.charAt(i);
      if (c >= 'a' && c <= 'z') {
        char[] chars = s.toCharArray();
        for (int k = i; k < n; k++) {
          if (chars[k] >= 'a' && chars[k] <= 'z') {
            chars[k] -= 32;
          }
        }
        return new String(chars);
      }
    }
    return s;
  }
}

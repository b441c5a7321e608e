package io.advertisex.contract;

import java.util.Map;

/**
 * Impressions on the wire: one compact UTF-8 JSON object per message (contract 1.1), a port
 * of advertisex/contract/impressions.py's {@code decode_impression}.
 */
public final class Impressions {
  private Impressions() {}

  /**
   * The JSON object of a message; ContractException("malformed_json") when it is not one
   * (not strictly UTF-8, a byte-order mark, NaN/Infinity, nested deeper than 500, an integer
   * of more than 4300 digits, not an object, anything json.loads refuses).
   */
  public static Map<String, Object> decode(byte[] payload) {
    return Json.parseObject(payload);
  }
}

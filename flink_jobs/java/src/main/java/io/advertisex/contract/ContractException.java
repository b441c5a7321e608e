package io.advertisex.contract;

/**
 * A record broke the data contract: {@code reason} is the stable code of
 * advertisex/contract/errors.py. The human detail text of a dead letter comes from the
 * Python reference (only rejected messages take that slow path), so none is kept here, and
 * no stack trace is filled: rejection is an ordinary outcome on the hot path.
 */
public final class ContractException extends RuntimeException {
  private final String reason;

  public ContractException(String reason) {
    super(reason, null, false, false);
    this.reason = reason;
  }

  public String reason() {
    return reason;
  }
}

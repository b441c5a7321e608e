package io.advertisex.flink;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.table.functions.SpecializedFunction;
import org.apache.flink.table.functions.TableSemantics;
import org.apache.flink.table.functions.UserDefinedFunction;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.inference.CallContext;
import org.apache.flink.table.types.inference.StateTypeStrategy;
import org.apache.flink.table.types.inference.StaticArgument;
import org.apache.flink.table.types.inference.StaticArgumentTrait;
import org.apache.flink.table.types.inference.SystemTypeInference;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.table.types.inference.TypeStrategies;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimestampKind;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.types.logical.utils.LogicalTypeChecks;
import org.apache.flink.table.types.utils.TypeConversions;
import org.apache.flink.types.ColumnList;
import org.apache.flink.types.Row;

/**
 * adx_first_seen: deduplication by id whose memory is bounded by event time. The first row of
 * each PARTITION BY key leaves at once, unchanged and insert-only; later rows of the key are
 * dropped until the watermark passes the first row's rowtime + horizon, when the key is
 * forgotten (an event-time timer) and the next row of it is first again (the dedup horizon).
 *
 * <pre>
 * SELECT * FROM adx_first_seen(
 *   input   => TABLE checked_impressions PARTITION BY impression_id,
 *   horizon => INTERVAL '1' DAY,
 *   uid     => 'first-impressions')
 * </pre>
 *
 * <p>The output is the input row, whatever its schema: the PARTITION BY columns first (the
 * framework always puts them there), then the others in their order. Without on_time (the
 * form above) the function finds the input's rowtime attribute itself, the rows keep it as a
 * time attribute in its place, and a row behind the watermark is still processed (deduplicated
 * and passed on) as the ROW_NUMBER deduplication did. With {@code on_time =>
 * DESCRIPTOR(rowtime)} the framework's own time is used instead: the time column moves to the
 * end, named rowtime, and the framework drops every row that is behind the watermark when it
 * arrives (ProcessTableRunner.processEval), so late records would vanish.
 *
 * <p>A row whose forget time is already behind the watermark when it arrives (only possible
 * without on_time) leaves and is not remembered: a timer in the past is never registered by the
 * framework, so remembering it would keep the key for ever. A row without a time is passed on
 * and not remembered either.
 *
 * <p>The state has no processing-time TTL (ttl 0, so table.exec.state.ttl does not apply to it):
 * only the watermark clears it. Streaming only: Flink 2.2 cannot run a PTF in batch mode.
 *
 * <p>Rows reach eval() as Row: Flink 2.2 converts a polymorphic table argument to Row whatever
 * conversion class the signature declares (RowData is refused at code generation).
 */
public final class FirstSeenFunction extends ProcessTableFunction<Row>
    implements SpecializedFunction {
  private static final long serialVersionUID = 1L;

  /** The one state entry: when the key is forgotten, in epoch milliseconds. */
  public static class Seen {
    public Long forgetAt;
  }

  private static final String TABLE_ARG = "input";
  private static final String STATE = "seen";
  private static final int DECLARED_ARGS = 2; // input, horizon
  private static final int ON_TIME_OFFSET =
      SystemTypeInference.PROCESS_TABLE_FUNCTION_ARG_ON_TIME_OFFSET;

  // Set by specialize() for the call at hand: which input columns leave after the keys, and
  // where the rowtime is when on_time is not given (-1 when it is).
  private final int[] outputColumns;
  private final int timeColumn;

  public FirstSeenFunction() {
    this(null, -1);
  }

  private FirstSeenFunction(int[] outputColumns, int timeColumn) {
    this.outputColumns = outputColumns;
    this.timeColumn = timeColumn;
  }

  public void eval(Context ctx, Seen seen, Row input, Duration horizon) {
    if (seen.forgetAt != null) {
      return; // a later row of a key still remembered: a duplicate
    }
    TimeContext<Long> time = ctx.timeContext(Long.class);
    Long rowtime = timeColumn < 0 ? time.time() : epochMillis(input.getField(timeColumn));
    collect(project(input));
    if (rowtime == null) {
      return;
    }
    long forgetAt = rowtime + horizon.toMillis();
    Long watermark = time.currentWatermark();
    if (watermark != null && forgetAt <= watermark) {
      return; // already beyond the horizon: the framework would not register the timer
    }
    seen.forgetAt = forgetAt;
    time.registerOnTime(forgetAt);
  }

  public void onTimer(OnTimerContext ctx, Seen seen) {
    // Only the timer of the state at hand forgets the key.
    Long fired = ctx.timeContext(Long.class).time();
    if (seen.forgetAt != null && fired != null && fired >= seen.forgetAt) {
      ctx.clearState(STATE);
    }
  }

  private Row project(Row input) {
    Object[] values = new Object[outputColumns.length];
    for (int i = 0; i < values.length; i++) {
      values[i] = input.getField(outputColumns[i]);
    }
    return Row.of(values);
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

  // ------------------------------------------------------------------------------------------
  // Type inference: the output follows the input table's type.
  // ------------------------------------------------------------------------------------------

  @Override
  public TypeInference getTypeInference(DataTypeFactory typeFactory) {
    LinkedHashMap<String, StateTypeStrategy> state = new LinkedHashMap<>();
    // ttl 0: no processing-time TTL in the state layout; the event-time timer clears it.
    state.put(
        STATE,
        StateTypeStrategy.of(
            TypeStrategies.explicit(typeFactory.createDataType(Seen.class)), Duration.ZERO));
    return TypeInference.newBuilder()
        .staticArguments(
            StaticArgument.table(
                TABLE_ARG, Row.class, false, EnumSet.of(StaticArgumentTrait.SET_SEMANTIC_TABLE)),
            StaticArgument.scalar(
                "horizon", DataTypes.INTERVAL(DataTypes.SECOND(3)).notNull(), false))
        .stateTypeStrategies(state)
        .outputTypeStrategy(call -> Optional.of(Shape.of(call).outputType()))
        .build();
  }

  @Override
  public UserDefinedFunction specialize(SpecializedContext context) {
    Shape shape = Shape.of(context.getCallContext());
    return new FirstSeenFunction(shape.outputColumns, shape.onTime ? -1 : shape.timeColumn);
  }

  /** What a call looks like: its input columns, keys and time column. */
  private static final class Shape {
    final List<RowType.RowField> fields;
    final int[] outputColumns;
    final int timeColumn;
    final boolean onTime;

    private Shape(List<RowType.RowField> fields, int[] outputColumns, int timeColumn, boolean onTime) {
      this.fields = fields;
      this.outputColumns = outputColumns;
      this.timeColumn = timeColumn;
      this.onTime = onTime;
    }

    static Shape of(CallContext call) {
      List<DataType> args = call.getArgumentDataTypes();
      LogicalType table = args.get(0).getLogicalType();
      if (!(table instanceof RowType)) {
        throw new ValidationException("adx_first_seen takes a table of rows, got " + table);
      }
      List<RowType.RowField> fields = ((RowType) table).getFields();
      TableSemantics semantics =
          call.getTableSemantics(0)
              .orElseThrow(() -> new ValidationException("adx_first_seen needs a table argument"));
      List<Integer> keys = new ArrayList<>();
      for (int k : semantics.partitionByColumns()) {
        keys.add(k);
      }
      if (keys.isEmpty()) {
        throw new ValidationException("adx_first_seen needs TABLE ... PARTITION BY the id");
      }
      // The planner asks twice: while validating the call, with the system arguments (on_time,
      // uid) after the declared ones, and when generating the runtime code, without them but
      // with the on_time column in the table semantics.
      List<String> onTimeNames = List.of();
      if (args.size() > DECLARED_ARGS) {
        onTimeNames =
            call.getArgumentValue(args.size() - 1 - ON_TIME_OFFSET, ColumnList.class)
                .map(ColumnList::getNames)
                .orElse(List.of());
      } else if (semantics.timeColumn() >= 0) {
        onTimeNames = List.of(fields.get(semantics.timeColumn()).getName());
      }
      int time = -1;
      boolean onTime = !onTimeNames.isEmpty();
      for (int i = 0; i < fields.size(); i++) {
        boolean isTime =
            onTime
                ? onTimeNames.contains(fields.get(i).getName())
                : LogicalTypeChecks.isRowtimeAttribute(fields.get(i).getType());
        if (isTime) {
          if (time >= 0) {
            throw new ValidationException(
                "adx_first_seen: the input has more than one rowtime attribute; name one with "
                    + "on_time => DESCRIPTOR(...)");
          }
          time = i;
        }
      }
      if (time < 0) {
        throw new ValidationException(
            "adx_first_seen: the input has no rowtime attribute (a column with a WATERMARK)");
      }
      List<Integer> out = new ArrayList<>();
      for (int i = 0; i < fields.size(); i++) {
        // The keys lead the output already; with on_time the framework appends the time.
        if (!keys.contains(i) && !(onTime && i == time)) {
          out.add(i);
        }
      }
      return new Shape(fields, out.stream().mapToInt(Integer::intValue).toArray(), time, onTime);
    }

    DataType outputType() {
      List<DataTypes.Field> out = new ArrayList<>();
      for (int i : outputColumns) {
        RowType.RowField f = fields.get(i);
        // The input's rowtime stays a time attribute (without on_time); any other rowtime
        // attribute leaves as a plain timestamp. A proctime attribute stays one, as after the
        // ROW_NUMBER deduplication: the planner hands it to the function unmaterialized (null),
        // so it must not become a plain column; it is materialized where it is read.
        LogicalType type = (i == timeColumn && !onTime) ? f.getType() : plain(f.getType());
        out.add(DataTypes.FIELD(f.getName(), TypeConversions.fromLogicalToDataType(type)));
      }
      return DataTypes.ROW(out);
    }

    private static LogicalType plain(LogicalType type) {
      if (!LogicalTypeChecks.isRowtimeAttribute(type)) {
        return type;
      }
      if (type instanceof TimestampType) {
        TimestampType t = (TimestampType) type;
        return new TimestampType(t.isNullable(), TimestampKind.REGULAR, t.getPrecision());
      }
      LocalZonedTimestampType t = (LocalZonedTimestampType) type;
      return new LocalZonedTimestampType(t.isNullable(), TimestampKind.REGULAR, t.getPrecision());
    }
  }
}

/* The MLPerf Tiny / EEMBC benchmark protocol, device side, plus tinyedge's `te-` commands.
 *
 * Every base command prints what the reference firmware prints, byte for byte (typos included:
 * "Insufficent", "timestsamp"), because the MLPerf Tiny runner matches these lines. Where the reference
 * has undefined behaviour (an empty command, bytes past a finished load, an oversized load) this code
 * stays within its buffers and keeps the reference's visible output where there is one; README.md
 * lists each case.
 */
#include "te_protocol.h"

#include <stddef.h>
#include <string.h>

#include "port.h"
#include "te_format.h"
#include "te_layers.h"
#include "te_model.h"

/* The build's settings: a monitored build ([monitor] enabled) defines TINYEDGE_MONITOR in
 * tinyedge_config.h (or with a -D), and `te-monitor` then reads firmware/monitor's statistics; an MLPerf
 * Tiny benchmark build defines TE_MLPERF_MODEL_ID and the rest (te_protocol.h). */
#if defined(TINYEDGE_CONFIG_HEADER)
#include TINYEDGE_CONFIG_HEADER
#elif defined(__has_include)
#if __has_include("tinyedge_config.h")
#include "tinyedge_config.h"
#endif
#endif
#if defined(TINYEDGE_MONITOR)
#include "tinyedge_monitor.h"
#endif
#if defined(TE_MLPERF_MODEL_ID) && TE_MLPERF_INPUT == TE_MLPERF_INPUT_FLOAT32
#include "tinyedge_api.h"   /* tinyedge_quantize: the firmware's one int8 rounding */
#endif

/* Reference strings that the MLPerf Tiny runner or its users see. */
#define EE_FW_VERSION "ULPMark for tinyML Firmware V0.0.1"
#define EE_DEVICE_NAME "dut"
#ifndef TE_VENDOR_NAME
#define TE_VENDOR_NAME "tinyedge"
#endif

/* A layer build (TE_LAYERS, te_layers.h) marks the start of every inference, for `te-layers`. */
#if defined(TE_LAYERS)
#define LAYERS_BEGIN() te_layers_begin()
#else
#define LAYERS_BEGIN() ((void)0)
#endif

/* Default counts of `infer` without arguments, as the reference. */
#define DEFAULT_INFERENCES 1
#define DEFAULT_WARMUPS 10

static char command_buffer[TE_CMD_SIZE + 1u];
static size_t command_length;
static int parser_enabled;

/* The `db` buffer is the model's input buffer: load_size bytes announced by `db load`, load_position
 * of them received. */
static size_t load_size;
static size_t load_position;

/* Where `db` bytes go and how many it takes: the model's input buffer, except in a float32 benchmark
 * build, whose floats wait here until an inference quantizes them (the reference's input_float). A
 * uint8 benchmark stores each byte minus 128, its int8 value (db print adds the 128 back). */
#if defined(TE_MLPERF_MODEL_ID) && TE_MLPERF_INPUT == TE_MLPERF_INPUT_FLOAT32
static union { uint8_t bytes[TE_MLPERF_DB_BYTES]; float values[TE_MLPERF_DB_BYTES / 4u]; } float_input;
#define DB_BUFFER() float_input.bytes
#define DB_ELEMENT_BYTES 4u
#else
#define DB_BUFFER() ((uint8_t *)selected->input_buffer)
#define DB_ELEMENT_BYTES 1u
#endif
#if defined(TE_MLPERF_MODEL_ID)
#define DB_CAPACITY() ((size_t)TE_MLPERF_DB_BYTES)
#else
#define DB_CAPACITY() (selected->input_bytes)
#endif
#if defined(TE_MLPERF_MODEL_ID) && TE_MLPERF_INPUT == TE_MLPERF_INPUT_UINT8
#define DB_BYTE_OFFSET 0x80u   /* v - 128 as int8 is v XOR 0x80 */
#else
#define DB_BYTE_OFFSET 0u
#endif

/* The model the commands act on: the table's first at boot, another after `te-select`. */
static const te_model *selected;

/* What the last `infer` measured, for `te-ticks` and `te-output`. */
static int has_inferred;
static uint64_t last_ticks;
static uint32_t last_inferences;

/* ---- output ---------------------------------------------------------------------------------- */

static void put_text(const char *text)
{
    te_port_write((const uint8_t *)text, strlen(text));
}

static void put_u64(uint64_t value)
{
    char digits[TE_FORMAT_MAX];
    te_port_write((const uint8_t *)digits, te_format_u64(value, digits));
}

static void put_i64(int64_t value)
{
    char digits[TE_FORMAT_MAX];
    te_port_write((const uint8_t *)digits, te_format_i64(value, digits));
}

static void put_hex(const uint8_t *bytes, size_t length)
{
    char chunk[64];
    while (length > 0u) {
        size_t count = length < sizeof chunk / 2u ? length : sizeof chunk / 2u;
        te_port_write((const uint8_t *)chunk, te_format_hex(bytes, count, chunk));
        bytes += count;
        length -= count;
    }
}

static void put_line(const char *text)
{
    put_text(text);
    put_text("\r\n");
}

/* ---- helpers with the reference's libc semantics --------------------------------------------- */

/* strtok(NULL, " ") over the command: skips spaces, cuts the token, NULL at the end. */
static char *next_token(char **cursor)
{
    char *start = *cursor;
    char *end;
    while (*start == ' ') {
        ++start;
    }
    if (*start == '\0') {
        *cursor = start;
        return NULL;
    }
    end = start;
    while (*end != '\0' && *end != ' ') {
        ++end;
    }
    if (*end != '\0') {
        *end++ = '\0';
    }
    *cursor = end;
    return start;
}

/* atoi(): optional white space and sign, then digits up to the first non-digit; 0 when none.
 * Saturates at the 32-bit int range instead of overflowing. */
static int32_t parse_int(const char *text)
{
    const int64_t cap = (int64_t)1 << 31;
    int64_t value = 0;
    int negative = 0;
    while (*text == ' ' || (*text >= '\t' && *text <= '\r')) {
        ++text;
    }
    if (*text == '+' || *text == '-') {
        negative = *text == '-';
        ++text;
    }
    while (*text >= '0' && *text <= '9') {
        value = value * 10 + (*text - '0');
        if (value > cap) {
            value = cap;
        }
        ++text;
    }
    if (negative) {
        return (int32_t)-value;
    }
    return (int32_t)(value == cap ? cap - 1 : value);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int is_command(const char *token, const char *name)
{
    return strcmp(token, name) == 0;
}

/* ---- base commands --------------------------------------------------------------------------- */

static uint64_t microseconds_now(void)
{
    uint64_t ticks = te_port_ticks();
    uint64_t rate = te_port_ticks_per_second();
    if (rate == 0u) {
        return 0u;
    }
    /* Split so ticks * 10^6 cannot overflow. */
    return ticks / rate * 1000000u + ticks % rate * 1000000u / rate;
}

static void command_timestamp(void)
{
    put_text("m-lap-us-");
    put_u64(microseconds_now());
    put_text("\r\n");
}

static void command_help(void)
{
    put_line(EE_FW_VERSION);
    put_line("");
    put_line("help         : Print this information");
    put_line("name         : Print the name of the device");
    put_line("timestsamp   : Generate a timetsamp");
    put_line("db SUBCMD    : Manipulate a generic byte buffer");
    put_line("  load N     : Allocate N bytes and set load counter");
    put_line("  db HH[HH]* : Load 8-bit hex byte(s) until N bytes");
    put_line("  print [N=16] [offset=0]");
    put_line("             : Print N bytes at offset as hex");
    put_line("infer N [W=0]: Load input, execute N inferences after W warmup loops");
    put_line("results      : Return the result fp32 vector");
}

static void db_load(char **cursor)
{
    char *argument = next_token(cursor);
    int32_t requested;

    if (argument == NULL) {
        put_line("e-[Command 'db load' requires the # of bytes]");
        return;
    }
    requested = parse_int(argument);
    if (requested == 0) {
        load_size = 0u;
        put_line("e-[Command 'db load' must be >0 bytes]");
        return;
    }
    load_position = 0u;
    if (requested < 0 || (size_t)requested > DB_CAPACITY()) {
        /* The reference's text, without a prefix and ending "\n" only. It keeps the oversized count
         * and would overrun its buffer; here nothing is pending instead. */
        load_size = 0u;
        put_text("Supplied buffer size ");
        put_i64(requested);
        put_text(" exceeds maximum of ");
        put_u64(DB_CAPACITY());
        put_text("\n");
        return;
    }
    load_size = (size_t)requested;
    put_text("m-[Expecting ");
    put_u64(load_size);
    put_text(" bytes]\r\n");
}

static void db_print(void)
{
    const uint8_t *buffer = DB_BUFFER();
    const size_t per_line = 8u;
    size_t i;
    for (i = 0; i < load_size; ++i) {
        if (i % per_line == 0u) {
            put_text("m-buffer-");
        }
        {
            uint8_t sent = (uint8_t)(buffer[i] ^ DB_BYTE_OFFSET);
            put_hex(&sent, 1u);
        }
        put_text(((i + 1u) % per_line == 0u || i + 1u == load_size) ? "\r\n" : "-");
    }
    /* The reference ends a short last row twice: an empty line follows it. */
    if (i % per_line != 0u) {
        put_text("\r\n");
    }
}

static void db_bytes(const char *digits)
{
    uint8_t *buffer = DB_BUFFER();
    size_t count = strlen(digits);
    size_t i;

    if ((count & 1u) != 0u) {
        put_line("e-[Insufficent number of hex digits]");
        return;
    }
    for (i = 0; i < count; i += 2u) {
        int high = hex_value(digits[i]);
        int low = hex_value(digits[i + 1u]);
        if (high < 0 || low < 0) {
            put_text("e-[Invalid hex digit '");
            te_port_write((const uint8_t *)digits + i, 2u);
            put_text("']\r\n");
            return;
        }
        /* Bytes past the announced count are dropped (the reference writes them past its buffer). */
        if (load_position < load_size) {
            buffer[load_position++] = (uint8_t)((uint32_t)(high * 16 + low) ^ DB_BYTE_OFFSET);
            if (load_position == load_size) {
                put_line("m-load-done");
                return; /* the reference disregards the rest of the digits */
            }
        }
    }
}

static void command_db(char **cursor)
{
    char *subcommand = next_token(cursor);
    if (subcommand == NULL) {
        put_line("e-[Command 'db' requires a subcommand]");
    } else if (is_command(subcommand, "load")) {
        db_load(cursor);
    } else if (is_command(subcommand, "print")) {
        db_print();
    } else {
        db_bytes(subcommand);
    }
}

/* One dequantized output, as the reference prints it. */
static void put_result(float value)
{
    char number[TE_FORMAT_MAX];
#if defined(TE_MLPERF_MODEL_ID) && TE_MLPERF_RESULTS == TE_MLPERF_RESULTS_TRUNCATED3
    /* kws01's printer ("some platforms don't implement floating point formatting"): "0." and the
     * float products truncated toward zero, so 1/256 prints 0.003 where %0.3f gives 0.004. */
    put_text("0.");
    put_i64((int32_t)(value * 10.0f));
    put_i64((int32_t)(value * 100.0f) % 10);
    put_i64((int32_t)(value * 1000.0f) % 10);
    (void)number;
#else
    te_port_write((const uint8_t *)number, te_format_fixed3(value, number));
#endif
}

static void command_results(void)
{
    const te_model *model = selected;
    size_t i;
    put_text("m-results-[");
#if defined(TE_MLPERF_MODEL_ID) && TE_MLPERF_RESULTS == TE_MLPERF_RESULTS_MEAN_SQUARED_ERROR
    {
        /* ad01's anomaly score: float32, summed from the first element, over the dequantized output
         * against the float input as it was sent (not as quantized). */
        float sum = 0.0f;
        for (i = 0; i < model->output_bytes; ++i) {
            float difference = (float)((int32_t)model->output_buffer[i] - model->output_zero_point) *
                               model->output_scale - float_input.values[i];
            volatile float square = difference * difference;   /* no fused multiply-add: the host's */
            sum += square;                                     /* float32 sum is the same sum */
        }
        put_result(sum / (float)model->output_bytes);
    }
#else
    for (i = 0; i < model->output_bytes; ++i) {
        put_result((float)((int32_t)model->output_buffer[i] - model->output_zero_point) * model->output_scale);
#if defined(TE_MLPERF_MODEL_ID) && TE_MLPERF_RESULTS == TE_MLPERF_RESULTS_FIXED3_COMMAS
        put_text(",");   /* vww01's reference ends every value with a comma, the last one too */
#else
        if (i + 1u < model->output_bytes) {
            put_text(",");
        }
#endif
    }
#endif
    put_text("]\r\n");
}

static void report_invoke_failure(int status)
{
    put_text("e-[te: model invoke failed with status ");
    put_i64(status);
    put_text("]\r\n");
}

/* The reference's th_load_tensor: an inference needs the whole input (it would run on stale data); a
 * float32 benchmark build quantizes it into the model's input here, before the warm-ups. */
static int require_loaded_input(const te_model *model)
{
    const size_t expected = model->input_bytes * DB_ELEMENT_BYTES;
    if (load_position != expected) {
        put_text("e-[Input db has ");
        put_u64(load_position);
        put_text(" bytes, expected ");
        put_u64(expected);
        put_text("]\r\n");
        return 0;
    }
#if defined(TE_MLPERF_MODEL_ID) && TE_MLPERF_INPUT == TE_MLPERF_INPUT_FLOAT32
    {
        size_t i;
        for (i = 0; i < model->input_bytes; ++i) {
            model->input_buffer[i] = tinyedge_quantize(float_input.values[i], TE_MLPERF_INPUT_SCALE,
                                                       TE_MLPERF_INPUT_ZERO_POINT);
        }
    }
#endif
    return 1;
}

static void run_inferences(uint32_t inferences, uint32_t warmups)
{
    const te_model *model = selected;
    uint64_t start;
    uint64_t end;
    uint64_t excluded = 0u;
    uint32_t i;
    int status = 0;

    if (!require_loaded_input(model)) {
        return;
    }
    put_text("m-warmup-start-");
    put_u64(warmups);
    put_text("\r\n");
    for (i = 0; i < warmups && status == 0; ++i) {
        LAYERS_BEGIN();
        status = model->invoke(model->input_buffer, model->output_buffer);
    }
    if (status != 0) {
        report_invoke_failure(status);
        return;
    }
    put_line("m-warmup-done");
    put_text("m-infer-start-");
    put_u64(inferences);
    put_text("\r\n");
    command_timestamp();
    /* Ticks are read inside the two lap lines, so printing them is not counted. */
#if defined(TE_LAYERS)
    (void)te_layers_take_excluded();
#endif
    start = te_port_ticks();
    for (i = 0; i < inferences && status == 0; ++i) {
        LAYERS_BEGIN();
        status = model->invoke(model->input_buffer, model->output_buffer);
    }
    end = te_port_ticks();
#if defined(TE_LAYERS)
    /* A layer build's CRCs are not the model's time: te-ticks leaves them out, as te-layers does. */
    excluded = te_layers_take_excluded();
#endif
    command_timestamp();
    if (status != 0) {
        report_invoke_failure(status);
        return;
    }
    has_inferred = 1;
    last_ticks = end - start - excluded;
    last_inferences = inferences;
    put_line("m-infer-done");
    command_results();
}

static void command_infer(char **cursor)
{
    int32_t inferences = DEFAULT_INFERENCES;
    int32_t warmups = DEFAULT_WARMUPS;
    char *argument = next_token(cursor);
    if (argument != NULL) {
        inferences = parse_int(argument);
        if (inferences <= 0) {
            put_line("e-[Inference iterations must be >0]");
            return;
        }
        argument = next_token(cursor);
        if (argument != NULL) {
            warmups = parse_int(argument);
            if (warmups < 0) {
                put_line("e-[Inference warmup must be >=0]");
                return;
            }
        }
    }
    run_inferences((uint32_t)inferences, (uint32_t)warmups);
}

/* ---- tinyedge commands ----------------------------------------------------------------------- */

static void command_te_model(void)
{
    const te_model *model = selected;
    put_text("m-te-model-[");
    put_text(model->name);
    put_text(",");
    put_text(model->sha256);
    put_text("]\r\nm-te-io-[");
    put_u64(model->input_bytes);
    put_text(",");
    put_u64(model->output_bytes);
    put_text("]\r\n");
}

static int require_inference(const char *command)
{
    if (!has_inferred) {
        put_text("e-[");
        put_text(command);
        put_text(": no inference has run yet]\r\n");
    }
    return has_inferred;
}

static void command_te_output(void)
{
    const te_model *model = selected;
    if (!require_inference("te-output")) {
        return;
    }
    put_text("m-te-output-[");
    put_hex((const uint8_t *)model->output_buffer, model->output_bytes);
    put_text("]\r\n");
}

static void command_te_ticks(void)
{
    const char *unit = te_port_tick_unit();
    if (!require_inference("te-ticks")) {
        return;
    }
    put_text("m-te-ticks-");
    put_u64(last_ticks);
    put_text("\r\nm-te-count-");
    put_u64(last_inferences);
    put_text("\r\nm-te-unit-");
    put_text(unit);
    put_text("\r\n");
    if (strcmp(unit, "instructions") == 0) {
        put_text("m-te-instructions-per-tick-");
        put_u64(te_port_instructions_per_tick());
        put_text("\r\n");
    }
    put_text("m-te-ticks-per-second-");
    put_u64(te_port_ticks_per_second());
    put_text("\r\n");
}

/* m-te-models-[first,second,...]: the names in table order (no name holds a ',' or ']'). */
static void put_model_names(void)
{
    size_t i;
    for (i = 0; i < te_model_count; ++i) {
        put_text(te_model_table[i]->name);
        if (i + 1u < te_model_count) {
            put_text(",");
        }
    }
}

static void command_te_models(void)
{
    put_text("m-te-models-[");
    put_model_names();
    put_text("]\r\n");
}

/* Selecting a model starts it afresh: no pending load, no last inference (its buffers differ). */
static void command_te_select(char **cursor)
{
    const char *name = next_token(cursor);
    size_t i;
    for (i = 0; name != NULL && i < te_model_count; ++i) {
        if (strcmp(te_model_table[i]->name, name) == 0) {
            selected = te_model_table[i];
            load_size = 0u;
            load_position = 0u;
            has_inferred = 0;
            LAYERS_BEGIN();   /* no step of the last model's inference is this one's */
            put_text("m-te-selected-[");
            put_text(selected->name);
            put_text("]\r\n");
            return;
        }
    }
    if (name == NULL) {
        put_text("e-[te-select needs a model name; the firmware has ");
    } else {
        put_text("e-[te-select: unknown model '");
        put_text(name);
        put_text("'; the firmware has ");
    }
    put_model_names();
    put_text("]\r\n");
}

static void command_te_help(void)
{
    put_line("te-models    : List the models in this firmware (the first is selected at boot)");
    put_line("te-select M  : Select model M; every command then acts on it");
    put_line("te-model     : Print the model's name, SHA-256 prefix, input and output bytes");
    put_line("te-output    : Print the last inference's int8 output as hex");
    put_line("te-ticks     : Print the last timed inferences' duration in timer ticks");
#if defined(TE_LAYERS)
    put_line("te-layers    : Print the last inference's ticks and output CRC-32 of every step");
    put_line("te-tensor K  : Run one inference on the loaded input, print step K's output as hex");
#endif
#if defined(TINYEDGE_MONITOR)
    put_line("te-monitor[-reset]: Monitor statistics");
#endif
}

/* ---- the model monitor (firmware/monitor) ------------------------------------------------------ */

#if defined(TINYEDGE_MONITOR)

/* The monitor's commands are read now and then, not timed: GCC compiles them for size (its -O2 would
 * inline every put_text), so the monitor's flash stays small. */
#if defined(__GNUC__) && !defined(__clang__)
#define MONITOR_COMMAND __attribute__((optimize("Os")))
#else
#define MONITOR_COMMAND
#endif

/* Only the table's first model goes through tinyedge_model_run's monitor; a generated firmware of
 * one model says so (TINYEDGE_MONITOR_ONLY_MODEL), and then no other can be selected. */
#if defined(TINYEDGE_MONITOR_ONLY_MODEL)
#define require_monitored() 1
#else
MONITOR_COMMAND static int require_monitored(void)
{
    if (selected != te_model_table[0]) {
        put_text("e-[te-monitor: model ");
        put_text(selected->name);
        put_text(" is not monitored (only ");
        put_text(te_model_table[0]->name);
        put_text(" is)]\r\n");
        return 0;
    }
    return 1;
}
#endif

#if TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_CLASSIFIER
#define MONITOR_KIND_NAME "classifier"
#elif TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_REGRESSION
#define MONITOR_KIND_NAME "regression"
#else
#define MONITOR_KIND_NAME "autoencoder"
#endif

/* te-monitor's lines, as a table over the snapshot (smaller code than one call per number): a field
 * with a name starts a line, m-te-monitor-NAME-[v0,v1,...] (NAME-histogram-[...] for a histogram,
 * NAME-V for a single number, NAME alone for text); a field without one goes on with the line. Four
 * bytes a field: the name is an offset into monitor_names, the member's offset is in words. */
enum { FIELD_U32 = 0, FIELD_U64 = 1, FIELD_I64 = 2, FIELD_HISTOGRAM = 4, FIELD_SINGLE = 8, FIELD_TEXT = 16 };
typedef struct monitor_field {
    uint8_t name;       /* offset in monitor_names, or NO_NAME */
    uint8_t word;       /* offset in tinyedge_monitor_stats / 4 (every member is word aligned) */
    uint8_t type;       /* FIELD_U32, _U64 or _I64, with FIELD_HISTOGRAM or FIELD_SINGLE; FIELD_TEXT: the
                         * name alone (count 0) */
    uint8_t count;      /* values of that type in a row */
} monitor_field;

/* The names, each ending in '\0', and their offsets. */
#define MONITOR_NAMES "kind-" MONITOR_KIND_NAME "\0count\0latency\0input\0" MONITOR_OUTPUT_NAMES
#define NAME_KIND 0
#define NAME_COUNT (sizeof("kind-" MONITOR_KIND_NAME))
#define NAME_LATENCY (NAME_COUNT + sizeof "count")
#define NAME_INPUT (NAME_LATENCY + sizeof "latency")
#define NAME_OUTPUT (NAME_INPUT + sizeof "input")
#define NO_NAME 255u
#if TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_CLASSIFIER
#define MONITOR_OUTPUT_NAMES "class\0confidence"
#define NAME_SECOND_OUTPUT (NAME_OUTPUT + sizeof "class")
#elif TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_REGRESSION
#define MONITOR_OUTPUT_NAMES "output"
#else
#define MONITOR_OUTPUT_NAMES "error\0error-sum"
#define NAME_SECOND_OUTPUT (NAME_OUTPUT + sizeof "error")
#endif
static const char monitor_names[] = MONITOR_NAMES;

#define MONITOR_FIELD(name, member, type, count) \
    {(uint8_t)(name), (uint8_t)(offsetof(tinyedge_monitor_stats, member) / 4u), type, (uint8_t)(count)}

static const monitor_field monitor_fields[] = {
    MONITOR_FIELD(NAME_KIND, count, FIELD_TEXT, 0),
    MONITOR_FIELD(NAME_COUNT, count, FIELD_U32 | FIELD_SINGLE, 1),
    MONITOR_FIELD(NAME_LATENCY, latency_min, FIELD_U32, 2),
    MONITOR_FIELD(NO_NAME, latency_sum, FIELD_U64, 1),
    MONITOR_FIELD(NO_NAME, latency_reference, FIELD_U32, 1),
    MONITOR_FIELD(NAME_LATENCY, latency_histogram, FIELD_U32 | FIELD_HISTOGRAM, TINYEDGE_MONITOR_LATENCY_BINS),
    MONITOR_FIELD(NAME_INPUT, input_values, FIELD_U32, 3),
    MONITOR_FIELD(NO_NAME, input_sum, FIELD_I64, 1),
    MONITOR_FIELD(NO_NAME, input_sum_squares, FIELD_U64, 1),
    MONITOR_FIELD(NAME_INPUT, input_histogram, FIELD_U32 | FIELD_HISTOGRAM, TINYEDGE_MONITOR_INPUT_BINS),
#if TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_CLASSIFIER
    MONITOR_FIELD(NAME_OUTPUT, class_histogram, FIELD_U32 | FIELD_HISTOGRAM, TINYEDGE_MONITOR_CLASSES),
    MONITOR_FIELD(NAME_SECOND_OUTPUT, confidence_histogram, FIELD_U32 | FIELD_HISTOGRAM,
                  TINYEDGE_MONITOR_CONFIDENCE_BINS),
#elif TINYEDGE_MONITOR_KIND == TINYEDGE_MONITOR_REGRESSION
    MONITOR_FIELD(NAME_OUTPUT, output_histogram, FIELD_U32 | FIELD_HISTOGRAM, TINYEDGE_MONITOR_OUTPUT_BINS),
#else
    MONITOR_FIELD(NAME_OUTPUT, output_histogram, FIELD_U32 | FIELD_HISTOGRAM, TINYEDGE_MONITOR_OUTPUT_BINS),
    MONITOR_FIELD(NAME_SECOND_OUTPUT, error_sum, FIELD_U64 | FIELD_SINGLE, 1),
#endif
};

MONITOR_COMMAND static void put_monitor_fields(const tinyedge_monitor_stats *stats)
{
    const uint32_t *words = (const uint32_t *)stats;
    const char *line_end = "";
    size_t f;
    size_t k;
    for (f = 0; f < sizeof monitor_fields / sizeof monitor_fields[0]; ++f) {
        const monitor_field *field = &monitor_fields[f];
        const void *at = words + field->word;
        const unsigned type = field->type & 3u;
        if (field->name != NO_NAME) {
            put_text(line_end);
            put_text("m-te-monitor-");
            put_text(monitor_names + field->name);
            put_text((field->type & FIELD_HISTOGRAM) != 0u ? "-histogram-[" :
                     (field->type & FIELD_SINGLE) != 0u ? "-" : (field->type & FIELD_TEXT) != 0u ? "" : "-[");
            line_end = (field->type & (FIELD_SINGLE | FIELD_TEXT)) != 0u ? "\r\n" : "]\r\n";
        }
        for (k = 0; k < field->count; ++k) {
            if (field->name == NO_NAME || k > 0u) {
                put_text(",");
            }
            if (type == FIELD_U32) {
                put_u64(((const uint32_t *)at)[k]);
            } else if (type == FIELD_U64) {
                put_u64(((const uint64_t *)at)[k]);
            } else {
                put_i64(((const int64_t *)at)[k]);
            }
        }
    }
    put_text(line_end);
}

MONITOR_COMMAND static void command_te_monitor(void)
{
    tinyedge_monitor_stats stats;
    if (!require_monitored()) {
        return;
    }
    tinyedge_monitor_snapshot(&stats);
    put_monitor_fields(&stats);
}

MONITOR_COMMAND static void command_te_monitor_reset(void)
{
    if (require_monitored()) {
        tinyedge_monitor_reset();
        put_text("m-te-monitor-reset-done\r\n");   /* put_text: one call out of line here */
    }
}

#else

static void command_te_monitor(void)
{
    put_line("e-[te-monitor: built without the monitor; set [monitor] enabled = true and build again]");
}

static void command_te_monitor_reset(void)
{
    command_te_monitor();
}

#endif

/* ---- layer builds (te_layers.h) ---------------------------------------------------------------- */

#if defined(TE_LAYERS)

/* m-te-layer-K-TICKS-CRC: the CRC as 8 lower-case hex digits. */
static void put_crc(uint32_t crc)
{
    uint8_t bytes[4];
    bytes[0] = (uint8_t)(crc >> 24);
    bytes[1] = (uint8_t)(crc >> 16);
    bytes[2] = (uint8_t)(crc >> 8);
    bytes[3] = (uint8_t)crc;
    put_hex(bytes, sizeof bytes);
}

static void command_te_layers(void)
{
    size_t count = te_layers_count();
    size_t k;
    if (count == 0u) {
        put_line("e-[te-layers: no inference has run yet]");
        return;
    }
    put_text("m-te-layers-");
    put_u64(count);
    put_text("\r\n");
    for (k = 0; k < count; ++k) {
        const te_layer_record *record = te_layers_record(k);
        put_text("m-te-layer-");
        put_u64(k);
        put_text("-");
        put_u64(record != NULL ? record->ticks : 0u);
        put_text("-");
        put_crc(record != NULL ? record->crc : 0u);
        put_text("\r\n");
    }
}

/* What te-tensor's inference handed over of the watched step. */
static int tensor_seen;
static size_t tensor_bytes;

/* Prints a step's output as it ends, in m-te-tensor-[...] lines of at most 64 bytes. */
static void tensor_sink(uint32_t step, const void *output, size_t bytes)
{
    const uint8_t *data = (const uint8_t *)output;
    size_t sent = 0u;
    (void)step;
    tensor_seen = 1;
    if (data == NULL) {
        return;
    }
    while (sent < bytes) {
        size_t chunk = bytes - sent < 64u ? bytes - sent : 64u;
        put_text("m-te-tensor-[");
        put_hex(data + sent, chunk);
        put_text("]\r\n");
        sent += chunk;
    }
    tensor_bytes = bytes;
}

static int is_number(const char *text)
{
    if (*text == '\0') {
        return 0;
    }
    for (; *text != '\0'; ++text) {
        if (*text < '0' || *text > '9') {
            return 0;
        }
    }
    return 1;
}

static void command_te_tensor(char **cursor)
{
    const te_model *model = selected;
    const char *argument = next_token(cursor);
    uint32_t step;
    int status;
    if (argument == NULL || !is_number(argument)) {
        put_text("e-[te-tensor needs a step number (te-layers numbers the steps from 0)");
        if (argument != NULL) {
            put_text(", not '");
            put_text(argument);
            put_text("'");
        }
        put_text("]\r\n");
        return;
    }
    step = (uint32_t)parse_int(argument);
    if (!require_loaded_input(model)) {
        return;
    }
    tensor_seen = 0;
    tensor_bytes = 0u;
    te_layers_watch(step, tensor_sink);
    te_layers_begin();
    status = model->invoke(model->input_buffer, model->output_buffer);
    te_layers_watch(0u, NULL);
    if (status != 0) {
        report_invoke_failure(status);
        return;
    }
    if (!tensor_seen) {
        put_text("e-[te-tensor: no step ");
        put_u64(step);
        put_text("; the model has ");
        put_u64(te_layers_count());
        put_text(" steps (0 to ");
        put_u64(te_layers_count() > 0u ? te_layers_count() - 1u : 0u);
        put_text(")]\r\n");
        return;
    }
    if (te_layers_record(step) == NULL || te_layers_record(step)->bytes == 0u) {
        put_text("e-[te-tensor: step ");
        put_u64(step);
        put_text(" hands over no output in this runtime (te-layers has its ticks only)]\r\n");
        return;
    }
    put_text("m-te-tensor-done-");
    put_u64(step);
    put_text("-");
    put_u64(tensor_bytes);
    put_text("\r\n");
}

#else

static void command_te_layers(void)
{
    put_line("e-[te-layers: built without layer profiling; run with --layers]");
}

static void command_te_tensor(char **cursor)
{
    (void)cursor;
    put_line("e-[te-tensor: built without layer profiling; run with --layers]");
}

#endif

/* ---- dispatch -------------------------------------------------------------------------------- */

static int dispatch_extension(const char *token, char **cursor)
{
    if (is_command(token, "te-model")) {
        command_te_model();
    } else if (is_command(token, "te-models")) {
        command_te_models();
    } else if (is_command(token, "te-select")) {
        command_te_select(cursor);
    } else if (is_command(token, "te-output")) {
        command_te_output();
    } else if (is_command(token, "te-ticks")) {
        command_te_ticks();
    } else if (is_command(token, "te-help")) {
        command_te_help();
    } else if (is_command(token, "te-layers")) {
        command_te_layers();
    } else if (is_command(token, "te-tensor")) {
        command_te_tensor(cursor);
    } else if (is_command(token, "te-monitor")) {
        command_te_monitor();
    } else if (is_command(token, "te-monitor-reset")) {
        command_te_monitor_reset();
    } else {
        return 0;
    }
    return 1;
}

static void run_command(char *command)
{
    char *cursor = command;
    char *token;

    if (!parser_enabled) {
        return;
    }
    token = next_token(&cursor);
    if (token == NULL) {
        /* The reference passes NULL to strncmp here; an empty command is unknown instead. */
        put_line("e-[Unknown command: ]");
    } else if (is_command(token, "name")) {
        put_line("m-name-" EE_DEVICE_NAME "-[" TE_VENDOR_NAME "]");
    } else if (is_command(token, "timestamp")) {
        command_timestamp();
    } else if (is_command(token, "profile")) {
        put_line("m-profile-[" EE_FW_VERSION "]");
#if defined(TE_MLPERF_MODEL_ID)
        put_line("m-model-[" TE_MLPERF_MODEL_ID "]");   /* the benchmark's id, which the runner's scripts are keyed by */
#else
        put_text("m-model-[");
        put_text(selected->name);
        put_text("]\r\n");
#endif
    } else if (is_command(token, "help")) {
        command_help();
    } else if (is_command(token, "db")) {
        command_db(&cursor);
    } else if (is_command(token, "infer")) {
        command_infer(&cursor);
    } else if (is_command(token, "results")) {
        command_results();
    } else if (!dispatch_extension(token, &cursor)) {
        put_text("e-[Unknown command: ");
        put_text(token);
        put_text("]\r\n");
    }
    put_line("m-ready");
}

void te_protocol_receive(char c)
{
    if (c == TE_CMD_TERMINATOR) {
        command_buffer[command_length] = '\0';
        run_command(command_buffer);
        command_length = 0u;
    } else {
        /* As the reference: once full, each further character overwrites the last slot, which the
         * terminator then replaces, so a long command keeps its first TE_CMD_SIZE characters. */
        command_buffer[command_length] = c;
        command_length = command_length >= TE_CMD_SIZE ? TE_CMD_SIZE : command_length + 1u;
    }
}

void te_protocol_start(void)
{
    size_t i;
    te_port_init(TE_SERIAL_BAUD);
    put_line("m-timestamp-mode-performance");
    command_timestamp();
    selected = te_model_table[0];
    for (i = 0; i < te_model_count; ++i) {
        const te_model *model = te_model_table[i];
        int status = model->init != NULL ? model->init() : 0;
        if (status != 0) {
            put_text("e-[te: model ");
            put_text(model->name);
            put_text(" init failed with status ");
            put_i64(status);
            put_text("]\r\n");
        }
    }
    put_line("m-init-done");
    parser_enabled = 1;
    put_line("m-ready");
}

void te_protocol_poll(void)
{
    uint8_t received[64];
    size_t count = te_port_read(received, sizeof received);
    size_t i;
    for (i = 0; i < count; ++i) {
        te_protocol_receive((char)received[i]);
    }
}

/* Per-step ticks and output CRCs of a layer build (te_layers.h). No heap: one record per step. */
#include "te_layers.h"

#if defined(TE_LAYERS)

#include "port.h"

static te_layer_record records[TE_LAYERS_MAX_STEPS];
static uint8_t seen[TE_LAYERS_MAX_STEPS];
static size_t count;
static uint64_t mark;
static uint64_t excluded;
static uint32_t watched_step;
static te_layers_sink watched_sink;

/* The reflected polynomial 0xEDB88320 a nibble at a time: a 64-byte table (flash-friendly on small
 * cores) instead of 1 KiB. */
static const uint32_t crc_nibbles[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uint32_t te_layers_crc32(uint32_t crc, const void *data, size_t bytes)
{
    const uint8_t *byte = (const uint8_t *)data;
    crc = ~crc;
    while (bytes-- > 0u) {
        crc ^= *byte++;
        crc = crc_nibbles[crc & 0x0Fu] ^ (crc >> 4);
        crc = crc_nibbles[crc & 0x0Fu] ^ (crc >> 4);
    }
    return ~crc;
}

void te_layers_begin(void)
{
    size_t k;
    for (k = 0; k < count; ++k) {
        seen[k] = 0u;
    }
    count = 0u;
    mark = te_port_ticks();
}

void te_layers_step(uint32_t step, const void *output, size_t bytes)
{
    uint64_t now = te_port_ticks();
    if (step < TE_LAYERS_MAX_STEPS) {
        te_layer_record *record = &records[step];
        record->ticks = now - mark;
        record->crc = output != NULL ? te_layers_crc32(0u, output, bytes) : 0u;
        record->bytes = output != NULL ? (uint32_t)bytes : 0u;
        seen[step] = 1u;
        if ((size_t)step + 1u > count) {
            count = (size_t)step + 1u;
        }
    }
    if (watched_sink != NULL && step == watched_step) {
        watched_sink(step, output, bytes);
    }
    mark = te_port_ticks();
    excluded += mark - now;
}

size_t te_layers_count(void)
{
    return count;
}

const te_layer_record *te_layers_record(size_t k)
{
    return k < count && seen[k] ? &records[k] : NULL;
}

uint64_t te_layers_take_excluded(void)
{
    uint64_t taken = excluded;
    excluded = 0u;
    return taken;
}

void te_layers_watch(uint32_t step, te_layers_sink sink)
{
    watched_step = step;
    watched_sink = sink;
}

#else
typedef int te_layers_not_built_; /* not a layer build: ISO C wants at least one declaration */
#endif

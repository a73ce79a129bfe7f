// NBD wire constants, from the NBD protocol specification
// (github.com/NetworkBlockDevice/nbd doc/proto.md) and QEMU's docs/interop/nbd.rst.
//
// NEVER CHANGE a value in this file: each one is fixed by the protocol and
// shared with every NBD server in the field. Add new names; do not edit old ones.
// All multi-byte fields on the wire are big-endian.

/** "NBDMAGIC": first 8 bytes the server sends. */
export const NBD_INIT_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": newstyle magic, sent by the server and before every client option. */
export const NBD_OPTS_MAGIC = 0x49484156454f5054n;
/** What follows NBDMAGIC in oldstyle negotiation (which Ferry does not speak). */
export const NBD_OLDSTYLE_MAGIC = 0x00420281861253n;
/** Magic of every option reply in fixed newstyle negotiation. */
export const NBD_REP_MAGIC = 0x0003e889045565a9n;
/** Magic of a transmission-phase request. */
export const NBD_REQUEST_MAGIC = 0x25609513;
/** Magic of a simple reply. */
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
/** Magic of a structured reply chunk. */
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags (16 bits, server -> client). */
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;

/** Client flags (32 bits, client -> server). */
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

/** Transmission flags (16 bits, in NBD_INFO_EXPORT). */
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_ROTATIONAL = 1 << 4;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
export const NBD_FLAG_SEND_CACHE = 1 << 10;
export const NBD_FLAG_SEND_FAST_ZERO = 1 << 11;

/** Option types (client -> server during haggling). */
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;

/** Option reply types; error replies have bit 31 set. */
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_META_CONTEXT = 4;
export const NBD_REP_FLAG_ERROR = 0x80000000;
export const NBD_REP_ERR_UNSUP = 0x80000001;
export const NBD_REP_ERR_POLICY = 0x80000002;
export const NBD_REP_ERR_INVALID = 0x80000003;
export const NBD_REP_ERR_PLATFORM = 0x80000004;
export const NBD_REP_ERR_TLS_REQD = 0x80000005;
export const NBD_REP_ERR_UNKNOWN = 0x80000006;
export const NBD_REP_ERR_SHUTDOWN = 0x80000007;
export const NBD_REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
export const NBD_REP_ERR_TOO_BIG = 0x80000009;

/** Names of option reply errors, for messages. */
export const NBD_REP_ERR_NAMES: Readonly<Record<number, string>> = {
  [NBD_REP_ERR_UNSUP]: "NBD_REP_ERR_UNSUP",
  [NBD_REP_ERR_POLICY]: "NBD_REP_ERR_POLICY",
  [NBD_REP_ERR_INVALID]: "NBD_REP_ERR_INVALID",
  [NBD_REP_ERR_PLATFORM]: "NBD_REP_ERR_PLATFORM",
  [NBD_REP_ERR_TLS_REQD]: "NBD_REP_ERR_TLS_REQD",
  [NBD_REP_ERR_UNKNOWN]: "NBD_REP_ERR_UNKNOWN",
  [NBD_REP_ERR_SHUTDOWN]: "NBD_REP_ERR_SHUTDOWN",
  [NBD_REP_ERR_BLOCK_SIZE_REQD]: "NBD_REP_ERR_BLOCK_SIZE_REQD",
  [NBD_REP_ERR_TOO_BIG]: "NBD_REP_ERR_TOO_BIG",
};

/** Information types in NBD_OPT_GO / NBD_REP_INFO. */
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

/** Request (command) types. */
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

/** Command flags (16 bits). */
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;
export const NBD_CMD_FLAG_REQ_ONE = 1 << 3;
export const NBD_CMD_FLAG_FAST_ZERO = 1 << 4;

/** Structured reply flags (16 bits). */
export const NBD_REPLY_FLAG_DONE = 1 << 0;

/** Structured reply chunk types; error chunk types have bit 15 set. */
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
export const NBD_REPLY_TYPE_BLOCK_STATUS = 5;
export const NBD_REPLY_TYPE_FLAG_ERROR = 1 << 15;
export const NBD_REPLY_TYPE_ERROR = NBD_REPLY_TYPE_FLAG_ERROR + 1;
export const NBD_REPLY_TYPE_ERROR_OFFSET = NBD_REPLY_TYPE_FLAG_ERROR + 2;

/** `base:allocation` flags: the range is not allocated / reads as zeros. */
export const NBD_STATE_HOLE = 1 << 0;
export const NBD_STATE_ZERO = 1 << 1;
/** `qemu:dirty-bitmap:NAME` flag: the range was written since the bitmap was created. */
export const NBD_STATE_DIRTY = 1 << 0;

/** Error numbers in replies (errno values of the original Linux server). */
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;

/** Meta context names. */
export const BASE_ALLOCATION = "base:allocation";
export const QEMU_DIRTY_BITMAP_PREFIX = "qemu:dirty-bitmap:";

/** Size of fixed wire structures, bytes. */
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_HEADER_BYTES = 16;
export const STRUCTURED_REPLY_HEADER_BYTES = 20;
export const OPTION_REPLY_HEADER_BYTES = 20;

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { DescribeResponseSchema } from "@ferry/common";
import {
  type DescribeResponse,
  FerryError,
  type MoverService,
  type ServiceImpl,
} from "@ferry/common";

/** What the MoverService needs from the mover it serves. */
export interface MoverServiceDeps {
  describe(
    signal: AbortSignal,
  ): Promise<MessageInitShape<typeof DescribeResponseSchema> | DescribeResponse>;
}

/**
 * The mover's gRPC service. Backup and restore arrive with issue 3; until
 * then they fail with UNIMPLEMENTED rather than pretend.
 */
export function createMoverService(deps: MoverServiceDeps): ServiceImpl<typeof MoverService> {
  return {
    describe: (_req, ctx) => deps.describe(ctx.signal),
    runBackup: async () => {
      throw new FerryError("UNIMPLEMENTED", "this mover cannot run backups yet");
    },
    runRestore: async () => {
      throw new FerryError("UNIMPLEMENTED", "this mover cannot run restores yet");
    },
    cancel: async () => ({ cancelled: false }),
  };
}

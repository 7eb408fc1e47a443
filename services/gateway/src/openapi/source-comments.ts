import type { DescField, DescFile, DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";

type Commented = DescService | DescMethod | DescMessage | DescField;

// Field numbers in descriptor.proto that make up source_code_info paths.
const FILE_MESSAGE = 4;
const FILE_SERVICE = 6;
const MESSAGE_FIELD = 2;
const MESSAGE_NESTED = 3;
const SERVICE_METHOD = 2;

function pathOf(desc: Commented): { file: DescFile; path: number[] } {
  switch (desc.kind) {
    case "service":
      return { file: desc.file, path: [FILE_SERVICE, desc.file.proto.service.indexOf(desc.proto)] };
    case "rpc": {
      const parent = pathOf(desc.parent);
      return {
        file: parent.file,
        path: [...parent.path, SERVICE_METHOD, desc.parent.proto.method.indexOf(desc.proto)],
      };
    }
    case "message": {
      if (!desc.parent)
        return {
          file: desc.file,
          path: [FILE_MESSAGE, desc.file.proto.messageType.indexOf(desc.proto)],
        };
      const parent = pathOf(desc.parent);
      return {
        file: parent.file,
        path: [...parent.path, MESSAGE_NESTED, desc.parent.proto.nestedType.indexOf(desc.proto)],
      };
    }
    case "field": {
      const parent = pathOf(desc.parent);
      return {
        file: parent.file,
        path: [...parent.path, MESSAGE_FIELD, desc.parent.proto.field.indexOf(desc.proto)],
      };
    }
  }
}

/**
 * The leading comment of a service, method, message or field in its .proto source, when the
 * descriptor carries source info (a `buf build` image does; generated code does not).
 */
export function commentOf(desc: Commented): string | undefined {
  const { file, path } = pathOf(desc);
  const location = file.proto.sourceCodeInfo?.location.find(
    (l) => l.path.length === path.length && l.path.every((n, i) => n === path[i]),
  );
  const text = location?.leadingComments
    .split("\n")
    .map((line) => line.replace(/^ /, ""))
    .join("\n")
    .trim();
  return text === "" ? undefined : text;
}

/**
 * The gRPC API subsets (proto/**) as grpc-js client constructors. The .proto texts are bundled
 * into dist/*.js by esbuild (`loader: { '.proto': 'text' }` in scripts/build.mjs), parsed once by
 * protobufjs into one root and turned into a package definition by @grpc/proto-loader: the
 * product never reads proto files from disk.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';

import wellKnown from '../../../../proto/google/protobuf.proto';
import ctrTypes from '../../../../proto/containerd/types.proto';
import ctrTask from '../../../../proto/containerd/task.proto';
import ctrVersion from '../../../../proto/containerd/version.proto';
import ctrNamespaces from '../../../../proto/containerd/namespaces.proto';
import ctrContainers from '../../../../proto/containerd/containers.proto';
import ctrTasks from '../../../../proto/containerd/tasks.proto';
import ctrImages from '../../../../proto/containerd/images.proto';
import ctrContent from '../../../../proto/containerd/content.proto';
import ctrEvents from '../../../../proto/containerd/events.proto';
import criRuntime from '../../../../proto/cri/runtime_v1.proto';

const SOURCES: Record<string, string> = {
  'google/protobuf.proto': wellKnown,
  'containerd/types.proto': ctrTypes,
  'containerd/task.proto': ctrTask,
  'containerd/version.proto': ctrVersion,
  'containerd/namespaces.proto': ctrNamespaces,
  'containerd/containers.proto': ctrContainers,
  'containerd/tasks.proto': ctrTasks,
  'containerd/images.proto': ctrImages,
  'containerd/content.proto': ctrContent,
  'containerd/events.proto': ctrEvents,
  'cri/runtime_v1.proto': criRuntime,
};

/** How responses look: camelCase fields, int64 as decimal strings, enums by name, defaults filled in. */
export const LOADER_OPTIONS: protoLoader.Options = { longs: String, enums: String, defaults: true, oneofs: true };

export type ServiceCtor = grpc.ServiceClientConstructor;

export interface Stubs {
  root: protobuf.Root;
  version: ServiceCtor;
  namespaces: ServiceCtor;
  containers: ServiceCtor;
  tasks: ServiceCtor;
  images: ServiceCtor;
  content: ServiceCtor;
  events: ServiceCtor;
  criRuntime: ServiceCtor;
  criImages: ServiceCtor;
}

let cached: Stubs | undefined;

/** Parse the bundled protos once per process. */
export function stubs(): Stubs {
  if (cached) return cached;
  const root = new protobuf.Root();
  for (const [name, text] of Object.entries(SOURCES)) {
    try {
      // keepCase false: field names become camelCase (wire format is by field number only)
      protobuf.parse(text, root, { keepCase: false });
    } catch (e) {
      throw new Error(`bundled ${name} does not parse: ${(e as Error).message}`);
    }
  }
  root.resolveAll();
  const def = protoLoader.fromJSON(root.toJSON(), LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as Record<string, unknown>;
  const get = (path: string): ServiceCtor => {
    let o: unknown = pkg;
    for (const part of path.split('.')) o = (o as Record<string, unknown>)?.[part];
    if (typeof o !== 'function') throw new Error(`gRPC service ${path} missing from the bundled protos`);
    return o as ServiceCtor;
  };
  cached = {
    root,
    version: get('containerd.services.version.v1.Version'),
    namespaces: get('containerd.services.namespaces.v1.Namespaces'),
    containers: get('containerd.services.containers.v1.Containers'),
    tasks: get('containerd.services.tasks.v1.Tasks'),
    images: get('containerd.services.images.v1.Images'),
    content: get('containerd.services.content.v1.Content'),
    events: get('containerd.services.events.v1.Events'),
    criRuntime: get('runtime.v1.RuntimeService'),
    criImages: get('runtime.v1.ImageService'),
  };
  return cached;
}

{{/* Chart name, 63 characters at most (DNS label). */}}
{{- define "rag.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every object. Truncated to 40 characters so that the longest suffix the chart
appends ("-default-worker-metrics", 23) still fits a 63-character DNS label.
*/}}
{{- define "rag.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "rag.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "rag.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rag.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Common labels. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "rag.labels" -}}
helm.sh/chart: {{ include "rag.chart" .ctx }}
{{ include "rag.selectorLabels" . }}
app.kubernetes.io/part-of: ragline
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/* Labels every pod of this release carries (the NetworkPolicies' "ragline pods"). */}}
{{- define "rag.releaseSelector" -}}
app.kubernetes.io/name: {{ include "rag.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rag.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rag.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* A ragline image. Call with (dict "ctx" $ "key" "api"|"ingestWorker"|"queryWorker"). */}}
{{- define "rag.image" -}}
{{- $img := index .ctx.Values.image .key }}
{{- $tag := default .ctx.Chart.AppVersion .ctx.Values.image.tag }}
{{- if .ctx.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.image.registry) $img.repository $tag }}
{{- else }}
{{- printf "%s:%s" $img.repository $tag }}
{{- end }}
{{- end }}

{{/* The CUDA variant of the ingest-worker image. Call with (dict "ctx" $ "gpu" .Values.ingestWorker.gpu). */}}
{{- define "rag.gpuImage" -}}
{{- $tag := default (default .ctx.Chart.AppVersion .ctx.Values.image.tag) .gpu.image.tag }}
{{- if .ctx.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.image.registry) .gpu.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .gpu.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The three worker kinds: values key, component name (also the Deployment name suffix). */}}
{{- define "rag.workerKinds" -}}
- key: ingestWorker
  component: ingest-worker
- key: queryWorker
  component: query-worker
- key: defaultWorker
  component: default-worker
{{- end }}

{{/* Redis: host, port, URL (the password comes from $(REDIS_PASSWORD), set before it). */}}
{{- define "rag.redisHost" -}}
{{- if .Values.redis.enabled }}
{{- printf "%s-redis" (include "rag.fullname" .) }}
{{- else }}
{{- required "redis.external.host is required when redis.enabled is false" .Values.redis.external.host }}
{{- end }}
{{- end }}

{{- define "rag.redisPort" -}}
{{- if .Values.redis.enabled }}6379{{ else }}{{ .Values.redis.external.port }}{{ end }}
{{- end }}

{{- define "rag.redisTLS" -}}
{{- if and (not .Values.redis.enabled) .Values.redis.external.tls }}true{{ end }}
{{- end }}

{{- define "rag.redisUrl" -}}
{{- $scheme := ternary "rediss" "redis" (eq (include "rag.redisTLS" .) "true") }}
{{- $auth := ternary ":$(REDIS_PASSWORD)@" "" .Values.redis.auth.enabled }}
{{- printf "%s://%s%s:%s/%d" $scheme $auth (include "rag.redisHost" .) (include "rag.redisPort" .) (int .Values.redis.database) }}
{{- end }}

{{/* RAGLINE_CACHE_REDIS_URL: the chart's cache Redis, an external one, or none (the caches share the main Redis). */}}
{{- define "rag.cacheRedisEnv" -}}
{{- if .Values.cacheRedis.enabled }}
{{- $auth := ternary ":$(REDIS_PASSWORD)@" "" .Values.redis.auth.enabled }}
- name: RAGLINE_CACHE_REDIS_URL
  value: {{ printf "redis://%s%s-cache-redis:6379/0" $auth (include "rag.fullname" .) | quote }}
{{- else if .Values.cacheRedis.external.existingSecret }}
- name: RAGLINE_CACHE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.cacheRedis.external.existingSecret }}
      key: {{ .Values.cacheRedis.external.existingSecretKey }}
{{- else if .Values.cacheRedis.external.url }}
- name: RAGLINE_CACHE_REDIS_URL
  value: {{ .Values.cacheRedis.external.url | quote }}
{{- end }}
{{- end }}

{{- define "rag.redisSecretName" -}}
{{- default (printf "%s-redis" (include "rag.fullname" .)) .Values.redis.auth.existingSecret }}
{{- end }}

{{- define "rag.redisSecretKey" -}}
{{- if .Values.redis.auth.existingSecret }}{{ .Values.redis.auth.existingSecretKey }}{{ else }}redis-password{{ end }}
{{- end }}

{{- define "rag.chromaUrl" -}}
{{- if .Values.chroma.enabled }}
{{- printf "http://%s-chroma:8000" (include "rag.fullname" .) }}
{{- else }}
{{- required "chroma.external.url is required when chroma.enabled is false" .Values.chroma.external.url }}
{{- end }}
{{- end }}

{{- define "rag.otlpEndpoint" -}}
{{- if .Values.jaeger.enabled }}
{{- printf "http://%s-jaeger:4318" (include "rag.fullname" .) }}
{{- else }}
{{- .Values.tracing.otlpEndpoint }}
{{- end }}
{{- end }}

{{- define "rag.openaiSecretName" -}}
{{- default (printf "%s-openai" (include "rag.fullname" .)) .Values.openai.existingSecret }}
{{- end }}

{{- define "rag.openaiSecretKey" -}}
{{- if .Values.openai.existingSecret }}{{ .Values.openai.existingSecretKey }}{{ else }}openai-api-key{{ end }}
{{- end }}

{{- define "rag.apiKeysSecretName" -}}
{{- default (printf "%s-api-keys" (include "rag.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{- define "rag.apiKeysSecretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}api-keys{{ end }}
{{- end }}

{{/*
An environment value as a string. Helm reads numbers from values files as float64, which would
print 52428800 as "5.24288e+07": whole numbers are printed as integers.
*/}}
{{- define "rag.envValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* terminationGracePeriodSeconds of a worker: long enough for a task to reach its hard limit. */}}
{{- define "rag.workerGracePeriod" -}}
{{- if .Values.worker.terminationGracePeriodSeconds }}
{{- if le (int64 .Values.worker.terminationGracePeriodSeconds) (int64 .Values.config.task_time_limit_seconds) }}
{{- fail (printf "worker.terminationGracePeriodSeconds (%d) must exceed config.task_time_limit_seconds (%d), or a stopping worker is killed mid-task" (int64 .Values.worker.terminationGracePeriodSeconds) (int64 .Values.config.task_time_limit_seconds)) }}
{{- end }}
{{- int64 .Values.worker.terminationGracePeriodSeconds }}
{{- else }}
{{- add (int64 .Values.config.task_time_limit_seconds) (int64 .Values.worker.shutdownMarginSeconds) }}
{{- end }}
{{- end }}

{{/*
Environment of the ragline processes (api, workers, Flower).
Call with (dict "ctx" $ "service" "ragline-api").
*/}}
{{- define "rag.env" -}}
{{- $ := .ctx }}
{{- if $.Values.redis.auth.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "rag.redisSecretName" $ }}
      key: {{ include "rag.redisSecretKey" $ }}
{{- end }}
- name: RAGLINE_REDIS_URL
  value: {{ include "rag.redisUrl" $ | quote }}
{{- include "rag.cacheRedisEnv" $ }}
- name: RAGLINE_CHROMA_URL
  value: {{ include "rag.chromaUrl" $ | quote }}
{{- /* Questions are refused at once with no query worker alive, unless KEDA may scale that kind to zero:
then the queued question is what wakes it. Uploads and demo tasks always queue. */}}
{{- $queryAtZero := and $.Values.keda.enabled (eq (int $.Values.queryWorker.autoscaling.minReplicas) 0) }}
- name: RAGLINE_REQUIRE_LIVE_WORKER_QUEUES
  value: {{ ternary "" "query" $queryAtZero | quote }}
{{- range $key, $value := $.Values.config }}
{{- if ne (toString $value) "" }}
- name: {{ printf "RAGLINE_%s" (upper $key) }}
  value: {{ include "rag.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- if or $.Values.openai.apiKey $.Values.openai.existingSecret }}
- name: OPENAI_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "rag.openaiSecretName" $ }}
      key: {{ include "rag.openaiSecretKey" $ }}
{{- end }}
{{ include "rag.blobEnv" $ | trim }}
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
{{- $otlp := include "rag.otlpEndpoint" $ }}
{{- if $otlp }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otlp | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
- name: OTEL_EXPORTER_OTLP_TIMEOUT
  value: {{ include "rag.envValue" $.Values.tracing.exportTimeoutSeconds | quote }}
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ include "rag.envValue" $.Values.tracing.sampleRatio | quote }}
{{- else }}
- name: OTEL_TRACES_EXPORTER
  value: none
{{- end }}
- name: OTEL_METRICS_EXPORTER
  value: none
- name: OTEL_LOGS_EXPORTER
  value: none
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=%s,k8s.namespace.name=%s" (include "rag.fullname" $) $.Release.Namespace | quote }}
{{- end }}

{{/* Volumes every ragline pod has: /tmp, the data folder and, with the filesystem blob store, the blobs. */}}
{{- define "rag.appVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: data
{{- if .Values.dataVolume.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.dataVolume.existingClaim }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- if eq .Values.blobStore.type "filesystem" }}
- name: blobs
  persistentVolumeClaim:
    claimName: {{ include "rag.blobClaimName" . }}
{{- end }}
{{- end }}

{{- define "rag.appVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ .Values.config.data_dir }}
{{- if eq .Values.blobStore.type "filesystem" }}
- name: blobs
  mountPath: {{ .Values.blobStore.filesystem.mountPath }}
{{- end }}
{{- end }}

{{- define "rag.blobClaimName" -}}
{{- default (printf "%s-blobs" (include "rag.fullname" .)) .Values.blobStore.filesystem.existingClaim }}
{{- end }}

{{/* The S3 credentials' Secret: the operator's, else the in-cluster SeaweedFS's, else none (boto3's own chain). */}}
{{- define "rag.s3SecretName" -}}
{{- if .Values.blobStore.s3.existingSecret }}{{ .Values.blobStore.s3.existingSecret }}{{ else if .Values.seaweedfs.enabled }}{{ include "rag.fullname" . }}-seaweedfs{{ end }}
{{- end }}

{{/*
Environment of the blob store (RAGLINE_BLOB_STORE and its settings). Fails on values that cannot work:
the in-cluster SeaweedFS with another backend or endpoint would run unused.
*/}}
{{- define "rag.blobEnv" -}}
{{- $s3 := .Values.blobStore.s3 }}
{{- if and .Values.seaweedfs.enabled (or (ne .Values.blobStore.type "s3") $s3.endpointUrl) }}
{{- fail "seaweedfs.enabled needs blobStore.type=s3 and an empty blobStore.s3.endpointUrl (the chart points the blob store at it)" }}
{{- end }}
- name: RAGLINE_BLOB_STORE
  value: {{ .Values.blobStore.type | quote }}
{{- if eq .Values.blobStore.type "filesystem" }}
- name: RAGLINE_BLOB_DIR
  value: {{ .Values.blobStore.filesystem.mountPath | quote }}
{{- else }}
{{- $endpoint := $s3.endpointUrl }}
{{- $region := $s3.region }}
{{- if .Values.seaweedfs.enabled }}
{{- $endpoint = printf "http://%s-seaweedfs:8333" (include "rag.fullname" .) }}
{{- $region = default "us-east-1" $region }}
{{- end }}
{{- if $endpoint }}
- name: RAGLINE_S3_ENDPOINT_URL
  value: {{ $endpoint | quote }}
{{- end }}
- name: RAGLINE_S3_BUCKET
  value: {{ $s3.bucket | quote }}
{{- if $s3.prefix }}
- name: RAGLINE_S3_PREFIX
  value: {{ $s3.prefix | quote }}
{{- end }}
{{- if $region }}
- name: RAGLINE_S3_REGION
  value: {{ $region | quote }}
{{- end }}
- name: RAGLINE_S3_ADDRESSING_STYLE
  value: {{ $s3.addressingStyle | quote }}
{{- $secret := include "rag.s3SecretName" . }}
{{- if $secret }}
- name: RAGLINE_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ ternary $s3.accessKeyIdKey "access-key-id" (ne $s3.existingSecret "") }}
- name: RAGLINE_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ ternary $s3.secretAccessKeyKey "secret-access-key" (ne $s3.existingSecret "") }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod annotations that roll the pods when a Secret the chart renders changes. */}}
{{- define "rag.checksumAnnotations" -}}
checksum/secrets: {{ include (print .Template.BasePath "/secrets.yaml") . | sha256sum }}
{{- end }}

{{- define "rag.flowerAuthSecretName" -}}
{{- default (printf "%s-flower-auth" (include "rag.fullname" .)) .Values.flower.basicAuth.existingSecret }}
{{- end }}

{{- define "rag.flowerAuthSecretKey" -}}
{{- if .Values.flower.basicAuth.existingSecret }}{{ .Values.flower.basicAuth.existingSecretKey }}{{ else }}basic-auth{{ end }}
{{- end }}

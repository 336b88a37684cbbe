{{/* Chart name, overridable. */}}
{{- define "ens-image-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's resources: <release>-<chart>, unless the release already names the chart. */}}
{{- define "ens-image-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ens-image-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ens-image-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ens-image-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ens-image-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: ens-image-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ens-image-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ens-image-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding the operator's own AccessKey, or "" when it has none. */}}
{{- define "ens-image-operator.credentialsSecret" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else if .Values.credentials.create.enabled }}
{{- printf "%s-credentials" (include "ens-image-operator.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Checks the schema cannot state clearly. Rendered (to nothing) by every template that depends on
them, so `helm template --show-only` fails just like `helm install`.
*/}}
{{- define "ens-image-operator.validate" -}}
{{- $modes := list }}
{{- if .Values.credentials.existingSecret }}{{ $modes = append $modes "credentials.existingSecret" }}{{ end }}
{{- if .Values.credentials.create.enabled }}{{ $modes = append $modes "credentials.create.enabled" }}{{ end }}
{{- if .Values.credentials.rrsa.enabled }}{{ $modes = append $modes "credentials.rrsa.enabled" }}{{ end }}
{{- if gt (len $modes) 1 }}
{{- fail (printf "choose at most one credentials mode, got %s: existingSecret (a Secret you manage), create (a Secret from values) or rrsa (RAM role for the service account)" (join ", " $modes)) }}
{{- end }}
{{- if and .Values.credentials.create.enabled (not (and .Values.credentials.create.accessKeyId .Values.credentials.create.accessKeySecret)) }}
{{- fail "credentials.create.enabled needs both credentials.create.accessKeyId and credentials.create.accessKeySecret" }}
{{- end }}
{{- if and .Values.credentials.rrsa.enabled (not (and .Values.credentials.rrsa.roleArn .Values.credentials.rrsa.oidcProviderArn)) }}
{{- fail "credentials.rrsa.enabled needs credentials.rrsa.roleArn and credentials.rrsa.oidcProviderArn" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.peering.enabled) }}
{{- fail "replicaCount > 1 needs peering.enabled=true: standalone replicas would all act on every object" }}
{{- end }}
{{- if and (eq .Values.installScope "namespace") (empty .Values.watchNamespaces) }}
{{- fail "installScope=namespace needs watchNamespaces: the namespaces the operator may act in" }}
{{- end }}
{{- end }}

{{/* Rules the operator needs inside the namespaces it serves (a ClusterRole in cluster scope, a Role per namespace otherwise). */}}
{{- define "ens-image-operator.namespacedRules" -}}
- apiGroups: ["ens.image-operator.io"]
  resources: ["ensimages", "ensimageexports", "ensimagecatalogs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["ens.image-operator.io"]
  resources: ["ensimages/status", "ensimageexports/status", "ensimagecatalogs/status"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- if and .Values.peering.enabled .Values.watchNamespaces }}
- apiGroups: ["kopf.dev"]
  resources: ["kopfpeerings"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end }}

{{/*
Names, labels and image references shared by the templates.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "paddle-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name: fullnameOverride, else <release>-<name>, or the release name
alone when it already contains the name. Kept to 63 characters (a DNS label).
*/}}
{{- define "paddle-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "paddle-operator.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The namespace of the namespaced objects. */}}
{{- define "paddle-operator.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{/* chart label value: <name>-<version>. */}}
{{- define "paddle-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator pods (stable across upgrades). */}}
{{- define "paddle-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paddle-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Labels on every object the chart renders. */}}
{{- define "paddle-operator.labels" -}}
helm.sh/chart: {{ include "paddle-operator.chart" . }}
app.kubernetes.io/name: {{ include "paddle-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paddle-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The metadata.annotations block (indented for metadata) from commonAnnotations plus the given
dict, or nothing when both are empty. Use as: {{- include "paddle-operator.annotations" (dict ...) }}
*/}}
{{- define "paddle-operator.annotations" -}}
{{- $all := merge (deepCopy (default dict .extra)) (deepCopy (default dict .context.Values.commonAnnotations)) -}}
{{- with $all }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* The operator's ServiceAccount name. */}}
{{- define "paddle-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "paddle-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The leader-election Lease: namespace and name. */}}
{{- define "paddle-operator.leaseNamespace" -}}
{{- default (include "paddle-operator.namespace" .) .Values.leaderElection.namespace -}}
{{- end -}}
{{- define "paddle-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "paddle-operator.fullname" .)) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/*
An image reference from {registry, repository, tag, digest}: registry/repository@digest when a
digest is set, else registry/repository:tag with the tag defaulting to the appVersion.
Call with (dict "image" .Values.image "context" $).
*/}}
{{- define "paddle-operator.image" -}}
{{- $repo := .image.repository -}}
{{- if .image.registry -}}
{{- $repo = printf "%s/%s" .image.registry .image.repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .context.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespace of an optional monitoring object: its own namespace value, else the release's. */}}
{{- define "paddle-operator.monitoringNamespace" -}}
{{- default (include "paddle-operator.namespace" .context) .namespace -}}
{{- end -}}

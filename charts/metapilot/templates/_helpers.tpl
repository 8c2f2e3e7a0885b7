{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "metapilot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name of the release's objects. */}}
{{- define "metapilot.fullname" -}}
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

{{- define "metapilot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "metapilot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "metapilot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "metapilot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: metapilot
{{- end }}

{{- define "metapilot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "metapilot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "metapilot.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the ops-center HMAC key is mounted. */}}
{{- define "metapilot.hmacDir" -}}/etc/metapilot/ops-center{{- end }}
{{- define "metapilot.webDashboardDir" -}}/etc/metapilot/web-dashboard{{- end }}

{{/* The ClusterRole the operator binds to itself in each tenant namespace (--tenant-secrets-cluster-role). */}}
{{- define "metapilot.tenantSecretsRole" -}}
{{- printf "%s-tenant-secrets" (include "metapilot.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ScalingDecision signing key Secret, next to the Lease (the controller's default). */}}
{{- define "metapilot.decisionKeySecret" -}}
{{- printf "%s-decision-key" .Values.leaderElection.leaseName }}
{{- end }}

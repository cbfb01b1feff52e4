// ModelController: model inspection and loading as EngineHost jobs.
#include "app/gui/model_controller.h"

#include <QFileInfo>
#include <QPointer>
#include <algorithm>
#include <filesystem>

#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/model/config.h"

namespace moescope::gui {

QString architectureBadge(const ModelSummary& s) {
    // Display names for the HF model_type values.
    static const std::map<std::string, QString> names{
        {"qwen3_moe", "Qwen3-MoE"}, {"qwen2_moe", "Qwen2-MoE"}, {"mixtral", "Mixtral"},
        {"olmoe", "OLMoE"},         {"deepseek_v2", "DeepSeek-V2"}, {"deepseek_v3", "DeepSeek-V3"}};
    const auto it = names.find(s.architecture);
    const QString arch = it != names.end() ? it->second : QString::fromStdString(s.architecture);
    return QStringLiteral("%1 · %2 layers · %3 experts · top-%4").arg(arch).arg(s.n_layers).arg(s.n_experts).arg(s.top_k);
}

namespace {
QString count(int64_t n) {
    if (n >= 1'000'000'000) return QString::number(n / 1e9, 'f', 1) + QStringLiteral(" B");
    if (n >= 1'000'000) return QString::number(n / 1e6, 'f', 1) + QStringLiteral(" M");
    if (n >= 1'000) return QString::number(n / 1e3, 'f', 1) + QStringLiteral(" K");
    return QString::number(n);
}
}  // namespace

QString parameterText(const ModelSummary& s) {
    return QStringLiteral("%1 total · %2 active").arg(count(s.params_total), count(s.params_active));
}

QString bytesText(quint64 bytes) {
    const double gib = bytes / (1024.0 * 1024.0 * 1024.0);
    if (gib >= 1.0) return QString::number(gib, 'f', 1) + QStringLiteral(" GiB");
    return QString::number(bytes / (1024.0 * 1024.0), 'f', 1) + QStringLiteral(" MiB");
}

ModelController::ModelController(EngineHost* host, std::shared_ptr<EngineState> state, QObject* parent)
    : QObject(parent), host_(host), state_(std::move(state)) {
    qRegisterMetaType<ModelSummary>();
}

QString ModelController::modelName() const {
    if (!loaded_) return {};
    return QFileInfo(QString::fromStdString(summary_.path)).fileName();
}

void ModelController::inspect(const QString& path) {
    QPointer<QObject> self(this);
    const std::string p = path.toStdString();
    // Tagged: typing or clicking through the recent list only inspects the newest choice.
    host_->post(QStringLiteral("inspect"), [this, self, path, p](const std::atomic<bool>& cancelled) {
        // Model::load only maps the files and reads their headers; no weights are touched, so this is
        // the cheap, exact way to learn parameter counts and sizes before the real load.
        auto m = Model::load(p, {}, &cancelled);
        if (cancelled) return;
        if (!m) {
            const QString msg = QString::fromStdString(m.message());
            host_->deliver(self, [this, path, msg] { emit inspectFailed(path, msg); });
            return;
        }
        const ModelSummary s = m.value()->summary();
        host_->deliver(self, [this, path, s] { emit inspected(path, s); });
    });
}

void ModelController::load(const LoadRequest& request) {
    host_->cancel(QStringLiteral("inspect"));
    host_->cancel(QStringLiteral("load"));
    request_ = request;
    loading_ = true;
    const quint64 gen = ++loadGeneration_;
    emit loadStarted(request.path);
    QPointer<QObject> self(this);
    auto state = state_;
    host_->post(QStringLiteral("load"), [this, self, state, request, gen](const std::atomic<bool>& cancelled) {
        // Progress arrives often; pass on only visible changes (1% steps or a new phase).
        double lastSent = -1.0;
        QString lastPhase;
        auto progress = [&](double f, const QString& phase) {
            if (f - lastSent < 0.01 && phase == lastPhase) return;
            lastSent = f;
            lastPhase = phase;
            host_->deliver(self, [this, f, phase, gen] {
                if (gen == loadGeneration_) emit loadProgress(f, phase);
            });
        };
        auto fail = [&](const QString& msg) {
            host_->deliver(self, [this, request, msg, gen] {
                if (gen != loadGeneration_) return;
                loading_ = false;
                emit loadFailed(request.path, msg);
            });
        };
        auto wasCancelled = [&] {
            host_->deliver(self, [this, request, gen] {
                if (gen != loadGeneration_) return;
                loading_ = false;
                emit loadCancelled(request.path);
            });
        };
        progress(0.0, tr("reading config"));
        // Weights: 0..85% of the bar.
        auto m = Model::load(request.path.toStdString(),
                             [&](double f, const std::string& what) {
                                 progress(0.85 * f, tr("reading weights: %1").arg(QString::fromStdString(what)));
                             },
                             &cancelled);
        if (cancelled) return wasCancelled();
        if (!m) return fail(QString::fromStdString(m.message()));
        std::unique_ptr<Model> model = std::move(m.value());

        progress(0.88, tr("loading tokenizer"));
        std::optional<Tokenizer> tok;
        const std::filesystem::path dir(model->dir());
        if (std::filesystem::exists(dir / "tokenizer.json")) {
            auto t = Tokenizer::from_model_dir(model->dir());
            if (!t) return fail(QString::fromStdString(t.message()));
            tok = std::move(t.value());
        }
        if (cancelled) return wasCancelled();

        // 8-bit weights (engine/model/quantize.h), as the CLI's --weights q8_0: CPU only, before any Session.
        if (request.weights == QLatin1String("q8_0")) {
            if (request.device != QLatin1String("cpu"))
                return fail(tr("8-bit (Q8_0) weights run on the CPU only; choose the CPU device."));
            progress(0.885, tr("quantising weights to 8 bits (Q8_0)"));
            auto q = model->quantize_q8_0();
            if (!q) return fail(QString::fromStdString(model->dir()) + QStringLiteral(": ") + QString::fromStdString(q.message()));
        } else if (request.weights != QLatin1String("native")) {
            return fail(tr("unknown weights option '%1' (native or q8_0)").arg(request.weights));
        }
        if (cancelled) return wasCancelled();

        // Device: the GPU copy of the weights and its KV cache (engine/cuda/cuda_backend.h), exactly as the
        // CLI's --device/--precision do; any failure (no GPU, out of memory with numbers) fails the load.
        SessionDevice device;
        device.max_context = std::max(1, request.context);
        if (request.device != QLatin1String("cpu")) {
            progress(0.89, tr("copying weights to the GPU"));
            auto choice = gpu::parse_device(request.device.toStdString());
            if (!choice) return fail(QString::fromStdString(choice.message()));
            auto precision = gpu::parse_precision(request.precision.toStdString());
            if (!precision) return fail(QString::fromStdString(precision.message()));
            gpu::CudaOptions o;
            o.precision = precision.value();
            auto cuda = gpu::select_device(choice.value(), model->config(), model->weights(), o, device.max_context);
            if (!cuda) return fail(QString::fromStdString(model->dir()) + QStringLiteral(": ") + QString::fromStdString(cuda.message()));
            device.cuda = cuda.value();
        }
        if (cancelled) return wasCancelled();

        // Warm-up: one forward pass allocates the KV cache and pages in the first weights, so the first
        // generated token is not mysteriously slow.
        progress(0.92, tr("allocating KV cache, warming up"));
        try {
            Session warm(*model, {}, device);
            const int32_t first = model->summary().bos_token_id.value_or(0);
            warm.prefill(std::span<const int32_t>(&first, 1));
        } catch (const std::exception& e) {
            return fail(QString::fromStdString(model->dir()) + QStringLiteral(": warm-up forward pass failed: ") + e.what());
        }
        if (cancelled) return wasCancelled();

        state->unload();
        state->model = std::move(model);
        state->device = std::move(device);
        state->tokenizer = std::move(tok);
        const ModelSummary s = state->model->summary();
        const bool hasTok = state->tokenizer.has_value();
        const QString format = !hasTok ? QString()
                               : state->tokenizer->chat_template().empty() ? tr("none (plain role: text lines)")
                                                                          : tr("the model's chat_template");
        progress(1.0, tr("done"));
        host_->deliver(self, [this, s, hasTok, format, gen] {
            if (gen != loadGeneration_) return;
            loading_ = false;
            loaded_ = true;
            summary_ = s;
            hasTokenizer_ = hasTok;
            chatFormat_ = format;
            emit loaded(s);
        });
    });
}

void ModelController::cancelLoad() {
    if (!loading_) return;
    // Answer at once (the job may still be queued, or busy inside one tensor); the running job sees its
    // flag and stops, and anything it still delivers is dropped by the generation check.
    host_->cancel(QStringLiteral("load"));
    ++loadGeneration_;
    loading_ = false;
    emit loadCancelled(request_.path);
}

}  // namespace moescope::gui
